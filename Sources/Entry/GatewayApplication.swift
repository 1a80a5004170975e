import Coordinators
package import Core
package import Logging
package import Routing

/// The gateway assembled from its configuration: the route table and middleware, the HTTP server
/// on the event loop, and its graceful shutdown.
package final class GatewayApplication: Sendable {
    package let configuration: GatewayConfiguration
    private let server: HTTPServer

    package init(configuration: GatewayConfiguration, loop: ServerEventLoop, logger: Logger) {
        self.configuration = configuration
        let services = Services(configuration: configuration, loop: loop)
        let router = GatewayRoutes.build(services: services, configuration: configuration)
        server = HTTPServer(
            loop: loop,
            configuration: HTTPServerConfiguration(
                host: configuration.host, port: configuration.port, maxConnections: configuration.maxConnections,
                maxBodyBytes: 1024 * 1024),
            router: router, logger: logger)
    }

    /// Binds the listener and returns the bound port.
    package func start() async throws -> Int {
        try await server.start()
    }

    /// Stops accepting, finishes in-flight requests and closes every connection.
    package func shutdown() async {
        await server.shutdown()
    }
}
