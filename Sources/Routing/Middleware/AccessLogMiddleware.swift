import Codecs
import Foundation
import Logging

/// Logs one line per request at `info`: method, path, status, duration and peer.
package struct AccessLogMiddleware: Middleware {
    package init() {}

    package func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
        guard context.logger.logLevel <= .info else { return try await next(request, context) }
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        context.logger.info(
            "\(request.method) \(request.head.target) \(response.status) \(String(format: "%.2f", milliseconds))ms",
            metadata: ["remote": "\(context.remoteAddress)", "request_id": "\(context.requestID)"])
        return response
    }
}
