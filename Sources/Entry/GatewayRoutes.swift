import Core
import Models
import Routing

/// The route table of the gateway.
enum GatewayRoutes {
    static func build(configuration: GatewayConfiguration) -> Router {
        let router = RouterBuilder()
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: AccessLogMiddleware())
        router.add(middleware: ErrorMiddleware())
        let health = (try? Response.json(HealthStatus())) ?? Response(status: 500)
        router.get("/health") { _, _ in health }
        return router.freeze()
    }
}
