/// Bytes a server has sent that are worth watching in metrics: streamed response bodies (image
/// downloads) and WebSocket frames. Plain counters, only touched on the loop thread.
package final class ServerTraffic {
    /// Body bytes of streamed responses handed to the socket.
    package var streamedBodyBytes = 0
    /// WebSocket frame bytes handed to the socket (data, control and close frames).
    package var webSocketBytes = 0

    init() {}
}
