import Codecs
import FoundationEssentials
package import Logging
package import Reactor

/// An HTTP/1.1 server on one event loop: a listener plus one `HTTPServerConnection` per client,
/// all answered through a frozen `Router`.
///
/// Handlers run as tasks whose executor preference is the loop, so they stay on the loop thread
/// unless they await work elsewhere. `shutdown()` stops accepting, lets in-flight requests
/// finish (idle connections close at once), and closes what is left after `drainTimeout`.
/// `@unchecked Sendable`: its state is touched on the loop only; the public methods hop there.
package final class HTTPServer: @unchecked Sendable {
    package let loop: EventLoop
    package let configuration: HTTPServerConfiguration
    let router: Router
    let logger: Logger
    private var listener: TCPListener?
    private var connections: [ObjectIdentifier: HTTPServerConnection] = [:]
    private var dateCache = HTTPDateCache()
    private var lastAcceptErrorLog: ContinuousClock.Instant?
    /// Bytes of streamed response bodies and of WebSocket frames sent, for metrics.
    package let traffic = ServerTraffic()

    package init(loop: EventLoop, configuration: HTTPServerConfiguration, router: Router, logger: Logger) {
        self.loop = loop
        self.configuration = configuration
        self.router = router
        self.logger = logger
    }

    /// Binds and starts accepting; returns the bound port.
    package func start() async throws -> Int {
        try await loop.submit { [self] in try startOnLoop() }
    }

    /// Binds and starts accepting; returns the bound port. Call on the loop thread.
    package func startOnLoop() throws -> Int {
        loop.assertInLoop()
        let onAccept: (TCPConnection) -> Void = { [unowned self] connection in accept(connection) }
        let listener =
            if let descriptor = configuration.listenDescriptor {
                try TCPListener(loop: loop, adopting: descriptor, backlog: configuration.backlog, onAccept: onAccept)
            } else {
                try TCPListener(
                    loop: loop, host: configuration.host, port: configuration.port, backlog: configuration.backlog,
                    onAccept: onAccept)
            }
        listener.onAcceptError = { [unowned self] error in acceptFailed(error) }
        self.listener = listener
        return listener.localPort
    }

    /// The address the listener is bound to (`127.0.0.1:8000`), or nil when not listening.
    package var localAddress: String? {
        loop.assertInLoop()
        return listener?.localAddress
    }

    /// Open client connections (WebSockets included).
    package var connectionCount: Int {
        loop.assertInLoop()
        return connections.count
    }

    private func accept(_ tcp: TCPConnection) {
        if connections.count >= configuration.maxConnections {
            logger.warning("connection limit \(configuration.maxConnections) reached; refusing \(tcp.remoteAddress)")
            var bytes: [UInt8] = []
            HTTPServerConnection.encode(
                HTTPServerConnection.errorResponse(.unavailable), keepAlive: false, headOnly: false, version: .http1_1,
                date: currentDate(), into: &bytes)
            tcp.write(bytes)
            tcp.closeGracefully(lingerMilliseconds: 500)
            return
        }
        let connection = HTTPServerConnection(server: self, tcp: tcp)
        connections[ObjectIdentifier(connection)] = connection
        connection.start()
    }

    /// Logs a failed accept, at most once every 10 s (under `EMFILE` it fails for every client).
    private func acceptFailed(_ error: UVError) {
        let now = ContinuousClock.now
        if let last = lastAcceptErrorLog, now - last < .seconds(10) { return }
        lastAcceptErrorLog = now
        logger.error(
            "cannot accept connections: \(error) (\(connections.count) open; raise the open-files limit or lower MAX_CONNECTIONS)"
        )
    }

    func connectionDidClose(_ connection: HTTPServerConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    /// The `Date` header value for now.
    func currentDate() -> String {
        dateCache.string(forEpochSecond: Int(Date().timeIntervalSince1970))
    }

    /// Graceful shutdown: stop accepting, finish in-flight requests, close everything. Returns
    /// when every connection is closed.
    package func shutdown() async {
        let deadline = ContinuousClock.now.advanced(by: configuration.drainTimeout)
        try? await loop.submit { [self] in
            listener?.stopAccepting()
            listener = nil
            for connection in connections.values { connection.shutdownRequested() }
        }
        while ContinuousClock.now < deadline {
            let remaining = (try? await loop.submit { [self] in connections.count }) ?? 0
            if remaining == 0 { return }
            await loop.sleep(milliseconds: 20)
        }
        try? await loop.submit { [self] in
            for connection in connections.values { connection.forceClose() }
        }
        while ((try? await loop.submit { [self] in connections.count }) ?? 0) > 0 {
            await loop.sleep(milliseconds: 10)
        }
    }
}
