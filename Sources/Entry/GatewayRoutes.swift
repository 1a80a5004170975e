// Entry (L1): the operation table (routes and OpenAPI from one list), request checks, errors as
// HTTP responses, docs pages, and the app assembled from configuration. Imports Coordinators,
// Routing, Models and Core only.

import Codecs
import Coordinators
import Core
import Models
import Routing

/// The route table of the gateway: every API operation (served and documented from one list),
/// then the documentation routes.
enum GatewayRoutes {
    static func operations(
        services: Services, configuration: GatewayConfiguration, scrape: @escaping @Sendable () -> [UInt8]
    ) -> [APIOperation] {
        let base = PublicBase(configuration: configuration)
        // The liveness answer never changes: encoded once, not per request.
        let health = Response.json(HealthStatus().json)
        return [
            APIOperation(
                method: .get, path: "/health", operationID: "health", tag: "operations",
                summary: "Liveness: 200 while the process serves",
                replies: [.json(200, "The gateway is up.", schema: "Health")], isOpen: true,
                immediate: { _, _ in health }
            ),
            APIOperation(
                method: .get, path: "/ready", operationID: "ready", tag: "operations",
                summary: "Readiness: 200 while ComfyUI answers the gateway's probe",
                description: "The probe asks ComfyUI's /system_stats every 10 s (every 1-30 s while it fails).",
                replies: [
                    .json(200, "ComfyUI answered the last probe.", schema: "Readiness"),
                    .error(503, "CONNECTION_ERROR: ComfyUI did not answer the last probe (`details.reason`)."),
                ], isOpen: true
            ) { _, _ in
                if let error = services.readiness() { throw error }
                return await .api(Readiness(upstream: services.upstream))
            },
            APIOperation(
                method: .get, path: "/metrics", operationID: "metrics", tag: "operations",
                summary: "Prometheus metrics (text exposition format 0.0.4)",
                description: """
                    Requests by route, method and status; request latency histogram; open connections; \
                    WebSocket subscribers; upstream state; followed prompts by state; WebSocket messages \
                    dropped and slow sockets closed; bytes streamed. Every name starts with comfy_gateway_.
                    """,
                replies: [
                    APIOperation.Reply(
                        status: 200, description: "The metrics.",
                        content: ["text/plain": ["schema": ["type": "string"]]], headers: nil)
                ],
                immediate: { _, _ in
                    var response = Response(body: .bytes(scrape()))
                    response.setHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                    return response
                }
            ),
        ] + WorkflowRoutes.operations(services.workflows, base: base) + JobRoutes.operations(services.jobs, base: base)
            + QueueRoutes.operations(services.queue)
            + ImageRoutes.operations(
                services.images, base: base, maxUploadBytes: configuration.maxUploadBytes)
    }

    /// The router: request id, metrics, access log, CORS and API keys around every route (the
    /// WebSocket upgrade included), in that order from the outside in; errors a handler throws
    /// take the API's error shape in every route's pipeline.
    static func build(
        services: Services, configuration: GatewayConfiguration, access: AccessPolicy, metrics: GatewayMetrics,
        accessLog: AccessLogMiddleware.Writer?, scrape: @escaping @Sendable () -> [UInt8]
    ) -> Router {
        let router = RouterBuilder()
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: MetricsMiddleware(metrics: metrics.http))
        router.add(middleware: AccessLogMiddleware(writer: accessLog))
        router.add(middleware: CORSMiddleware(policy: access))
        let operations = operations(services: services, configuration: configuration, scrape: scrape)
        let openPatterns = Set(operations.filter(\.isOpen).map(\.routerPattern))
        router.add(middleware: APIKeyMiddleware(policy: access, openPatterns: openPatterns))
        for operation in operations {
            let method: HTTPMethod = operation.method == .get ? .get : .post
            if let immediate = operation.immediate {
                router.on(method, operation.routerPattern, immediate: immediate)
            } else if let handler = operation.handler {
                router.on(method, operation.routerPattern, maxBodyBytes: operation.maxBodyBytes, handler: handler)
            } else {
                preconditionFailure("operation \(operation.operationID) has no handler")
            }
        }
        WebSocketRoutes.add(
            to: router, coordinator: services.webSockets, base: PublicBase(configuration: configuration),
            submitsPerSecond: configuration.wsSubmitsPerSecond)
        let document = OpenAPIDocument.build(operations, configuration: configuration).serialized()
        router.on(
            .get, "/openapi.json",
            immediate: { _, _ in
                var response = Response(body: .bytes(document))
                response.setHeader("Content-Type", "application/json; charset=utf-8")
                return response
            })
        let swagger = Array(DocsPages.swaggerUI(title: configuration.appName).utf8)
        let redoc = Array(DocsPages.redoc(title: configuration.appName).utf8)
        router.on(.get, "/docs", immediate: { _, _ in html(swagger) })
        router.on(.get, "/redoc", immediate: { _, _ in html(redoc) })
        return router.freeze()
    }

    private static func html(_ bytes: [UInt8]) -> Response {
        var response = Response(body: .bytes(bytes))
        response.setHeader("Content-Type", "text/html; charset=utf-8")
        return response
    }
}
