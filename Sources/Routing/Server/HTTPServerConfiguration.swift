package import Codecs

/// How an `HTTPServer` listens and what it tolerates.
package struct HTTPServerConfiguration: Sendable {
    package var host: String
    /// 0 picks a free port.
    package var port: Int
    package var backlog: Int32
    /// Connections beyond this are answered 503 and closed.
    package var maxConnections: Int
    package var timeouts: HTTPServerConnectionStateMachine<ContinuousClock>.Timeouts
    package var limits: HTTPLimits
    /// The body limit of routes that do not set their own.
    package var maxBodyBytes: Int
    /// How long graceful shutdown waits for in-flight requests before closing them.
    package var drainTimeout: Duration
    /// An inherited listening socket to serve instead of binding `host:port` (systemd socket
    /// activation).
    package var listenDescriptor: Int32?

    package init(
        host: String = "127.0.0.1", port: Int = 0, backlog: Int32 = 511, maxConnections: Int = 10_000,
        timeouts: HTTPServerConnectionStateMachine<ContinuousClock>.Timeouts = .init(),
        limits: HTTPLimits = HTTPLimits(),
        maxBodyBytes: Int = 1024 * 1024, drainTimeout: Duration = .seconds(8), listenDescriptor: Int32? = nil
    ) {
        self.listenDescriptor = listenDescriptor
        self.host = host
        self.port = port
        self.backlog = backlog
        self.maxConnections = maxConnections
        self.timeouts = timeouts
        self.limits = limits
        self.maxBodyBytes = maxBodyBytes
        self.drainTimeout = drainTimeout
    }
}
