package import Logging

/// What a handler knows about the request besides the request itself: its id, a logger that
/// carries that id, the path parameters the router captured, and the peer's address.
package struct RequestContext: Sendable {
    /// The request id (`X-Request-Id`): the client's when it sent a sane one, else generated.
    package var requestID: String
    package var logger: Logger
    /// Values of the route's `:name` segments, percent-decoded.
    package var parameters: [String: String]
    /// The peer as `host:port`.
    package var remoteAddress: String
    /// The pattern of the matched route (`/api/v1/workflows/:prompt_id/history`), for metrics.
    package var routePattern: String
    /// True on a WebSocket route (the upgrade request, or a plain GET that gets 426).
    package var isWebSocketRoute: Bool
    /// When the request's head was read (the access log and the latency metric count from here).
    package var receivedAt: ContinuousClock.Instant

    package init(
        requestID: String, logger: Logger, parameters: [String: String] = [:], remoteAddress: String = "",
        routePattern: String = "", isWebSocketRoute: Bool = false, receivedAt: ContinuousClock.Instant = .now
    ) {
        self.receivedAt = receivedAt
        self.isWebSocketRoute = isWebSocketRoute
        self.requestID = requestID
        self.logger = logger
        self.parameters = parameters
        self.remoteAddress = remoteAddress
        self.routePattern = routePattern
    }
}
