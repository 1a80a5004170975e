package import Codecs
import Coordinators
package import Core
package import Logging
import Models
package import Reactor
import Routing

/// The gateway assembled from its configuration: the route table and middleware, the HTTP server
/// on the event loop, its metrics and access rules, and its graceful shutdown.
/// `@unchecked Sendable`: `configuration` changes only in `reload`, on the one signal task.
package final class GatewayApplication: @unchecked Sendable {
    package private(set) var configuration: GatewayConfiguration
    private let server: HTTPServer
    private let services: Services
    private let access: AccessPolicy
    private let metrics: GatewayMetrics
    private let loop: EventLoop

    /// - Parameters:
    ///   - listenDescriptor: an inherited listening socket (socket activation) to serve instead of
    ///     binding `HOST:PORT`.
    ///   - connectionLimit: a cap below `MAX_CONNECTIONS` (what the open-files limit allows).
    ///   - accessLog: writes each access line directly, when
    ///     the caller formats log lines itself; nil logs them through `logger`.
    /// Opens the job ledger and assembles the gateway; a ledger that cannot be used is a
    /// configuration error naming the file.
    package static func open(
        configuration: GatewayConfiguration, loop: EventLoop, logger: Logger, listenDescriptor: Int32? = nil,
        connectionLimit: Int? = nil,
        accessLog: (@Sendable (AccessLine) -> Void)? = nil
    ) async throws(ConfigurationError) -> GatewayApplication {
        let services = try await Services.open(configuration: configuration, loop: loop, logger: logger)
        return GatewayApplication(
            configuration: configuration, services: services, loop: loop, logger: logger,
            listenDescriptor: listenDescriptor, connectionLimit: connectionLimit, accessLog: accessLog)
    }

    private init(
        configuration: GatewayConfiguration, services: Services, loop: EventLoop, logger: Logger,
        listenDescriptor: Int32?, connectionLimit: Int?, accessLog: (@Sendable (AccessLine) -> Void)?
    ) {
        self.configuration = configuration
        self.loop = loop
        self.services = services
        let access = AccessPolicy(Self.rules(configuration))
        self.access = access
        let metrics = GatewayMetrics()
        self.metrics = metrics
        // The `/metrics` handler (in the router, built before the server) reaches the server here.
        let reference = Locked<HTTPServer?>(nil)
        let router = GatewayRoutes.build(
            services: services, configuration: configuration, access: access, metrics: metrics,
            accessLog: accessLog
        ) {
            guard let server = reference.withLock({ $0 }) else { return [] }
            return metrics.scrape(server: server, stats: services.stats())
        }
        server = HTTPServer(
            loop: loop,
            configuration: HTTPServerConfiguration(
                host: configuration.host, port: configuration.port,
                maxConnections: min(configuration.maxConnections, connectionLimit ?? .max),
                maxBodyBytes: 1024 * 1024, drainTimeout: .seconds(configuration.shutdownDrainSeconds),
                listenDescriptor: listenDescriptor),
            router: router, logger: logger)
        reference.withLock { $0 = server }
    }

    /// Binds the listener (or adopts the inherited one), starts watching ComfyUI, and returns the
    /// bound address (`0.0.0.0:8000`).
    package func start() async throws -> String {
        let port = try await server.start()
        await services.start()
        let address = try? await loop.submit { [server] in server.localAddress }
        return (address ?? nil) ?? "\(configuration.host):\(port)"
    }

    /// Applies what a reload can change while running: API keys and CORS origins. Returns the
    /// settings that changed but need a restart.
    package func apply(_ reloaded: GatewayConfiguration) -> [String] {
        access.replace(with: Self.rules(reloaded))
        let needRestart = configuration.restartOnlyChanges(to: reloaded)
        configuration.apiKeys = reloaded.apiKeys
        configuration.corsOrigins = reloaded.corsOrigins
        configuration.logLevel = reloaded.logLevel
        return needRestart
    }

    /// One line on what the gateway is doing, for systemd's `STATUS=`. Call off the loop.
    package func statusLine() async -> String {
        let snapshot = try? await loop.submit { [server, services] in
            (server.connectionCount, services.stats())
        }
        guard let (connections, stats) = snapshot else { return "Stopping" }
        let upstream = stats.upstreamReachable ? "ComfyUI ready" : "ComfyUI not answering"
        return
            "Serving \(connections) connections, \(stats.webSocketSubscribers) WebSockets, "
            + "\(stats.jobsPending + stats.jobsRunning) prompts followed; \(upstream)"
    }

    /// Open client connections now. Call off the loop.
    package func connectionCount() async -> Int {
        (try? await loop.submit { [server] in server.connectionCount }) ?? 0
    }

    /// Stops accepting, finishes in-flight requests (up to `SHUTDOWN_DRAIN_SECONDS`), closes
    /// every connection (WebSockets with 1001), then the upstream connections.
    package func shutdown() async {
        await server.shutdown()
        await services.shutdown()
    }

    private static func rules(_ configuration: GatewayConfiguration) -> AccessPolicy.Rules {
        AccessPolicy.Rules(apiKeys: configuration.apiKeys, corsOrigins: configuration.corsOrigins)
    }
}
