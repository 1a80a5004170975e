import Coordinators
package import Core
package import Logging
package import Routing

/// The gateway assembled from its configuration: the route table and middleware, the HTTP server
/// on the event loop, and its graceful shutdown.
package final class GatewayApplication: Sendable {
    package let configuration: GatewayConfiguration
    private let server: HTTPServer
    private let services: Services

    package init(configuration: GatewayConfiguration, loop: ServerEventLoop, logger: Logger) {
        self.configuration = configuration
        let services = Services(configuration: configuration, loop: loop, logger: logger)
        self.services = services
        let router = GatewayRoutes.build(services: services, configuration: configuration)
        server = HTTPServer(
            loop: loop,
            configuration: HTTPServerConfiguration(
                host: configuration.host, port: configuration.port, maxConnections: configuration.maxConnections,
                maxBodyBytes: 1024 * 1024),
            router: router, logger: logger)
    }

    /// Binds the listener, starts watching ComfyUI, and returns the bound port.
    package func start() async throws -> Int {
        let port = try await server.start()
        await services.start()
        return port
    }

    /// Stops accepting, finishes in-flight requests, closes every connection, then the
    /// upstream connections.
    package func shutdown() async {
        await server.shutdown()
        await services.shutdown()
    }
}
