import Codecs
import Logging

/// Logs one line per request at `info`: method, path, status, duration and peer.
package struct AccessLogMiddleware: Middleware {
    package init() {}

    package nonisolated(nonsending) func handle(
        _ request: Request, context: RequestContext, next: Responder
    ) async throws -> Response {
        guard context.logger.logLevel <= .info else { return try await next(request, context) }
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        let milliseconds = "\(microseconds / 1000).\(String(microseconds % 1000 / 10 + 100).dropFirst())"
        context.logger.info(
            "\(request.method) \(request.head.target) \(response.status) \(milliseconds)ms",
            metadata: ["remote": "\(context.remoteAddress)", "request_id": "\(context.requestID)"])
        return response
    }
}
