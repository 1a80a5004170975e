/// What the service is doing right now, read on the loop when `/metrics` is scraped: sockets,
/// the upstream, and the prompts the gateway follows.
package struct GatewayStats: Sendable, Equatable {
    /// Gateway WebSockets open.
    package var webSocketSubscribers = 0
    /// Sockets closed with 1008 because they did not keep up, since start.
    package var slowSocketsClosed = 0
    /// Messages not delivered because their socket was closing, since start.
    package var messagesDropped = 0
    /// Whether the gateway's WebSocket to ComfyUI is connected.
    package var upstreamSocketConnected = false
    /// Whether ComfyUI answered the last readiness probe.
    package var upstreamReachable = false
    /// Followed prompts that are queued in ComfyUI and not running.
    package var jobsPending = 0
    /// Followed prompts that ComfyUI is running.
    package var jobsRunning = 0
    /// Followed prompts that ended, since start, by outcome (`success`, `error`, `interrupted`,
    /// `lost`).
    package var jobsEnded: [String: Int] = [:]

    package init() {}
}
