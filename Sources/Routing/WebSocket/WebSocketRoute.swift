/// Runs one accepted WebSocket: reads `socket.messages`, sends, and returns when done (the
/// socket is then closed with 1000, or 1011 if the handler threw).
package typealias WebSocketHandler = @Sendable (WebSocket, Request, RequestContext) async throws -> Void

/// How a WebSocket route behaves.
package struct WebSocketConfiguration: Sendable {
    /// Subprotocols the route speaks, in preference order of the client's offer.
    package var protocols: [String]
    /// The largest message (and frame) accepted: 1009 beyond.
    package var maxMessageSize: Int
    /// After this long without any frame from the peer a ping is sent; a peer that stays silent
    /// as long again is disconnected.
    package var pingInterval: Duration
    /// How long a close handshake may wait for the peer's close frame.
    package var closeTimeout: Duration
    /// Received messages the handler has not read yet, in bytes, beyond which the socket stops
    /// reading: TCP then holds back a peer that sends faster than the handler reads.
    package var maxUnreadBytes: Int

    package init(
        protocols: [String] = [], maxMessageSize: Int = 16 * 1024 * 1024, pingInterval: Duration = .seconds(30),
        closeTimeout: Duration = .seconds(5), maxUnreadBytes: Int = 1024 * 1024
    ) {
        self.maxUnreadBytes = maxUnreadBytes
        self.protocols = protocols
        self.maxMessageSize = maxMessageSize
        self.pingInterval = pingInterval
        self.closeTimeout = closeTimeout
    }
}

/// A WebSocket route as the router stores it.
package struct WebSocketRoute: Sendable {
    package let configuration: WebSocketConfiguration
    package let handler: WebSocketHandler
    /// The route's middleware around the handshake check: an upgrade request runs through it
    /// first (API keys, CORS, metrics, access log), and is answered with the response it gives:
    /// 101 with the handshake's headers, or the error (401, 400, 426) and a close.
    package let admission: Responder
}
