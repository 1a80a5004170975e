/// The next step of the chain: the route's handler, or the whole pipeline around it.
///
/// `nonisolated(nonsending)`: it runs on the caller's executor, the event loop, so calling it
/// costs no executor switch.
package typealias Responder = nonisolated(nonsending) @Sendable (Request, RequestContext) async throws -> Response

/// One step around every request, as two synchronous hooks. `prepare` runs before the handler,
/// in the order the middleware was added: it may change the context (the request id) or answer
/// at once (a 401, a CORS preflight), and then neither the handler nor any later middleware runs.
/// `finish` runs after, in reverse order, on the response on its way out (headers, the access
/// log, metrics); a middleware that answered in `prepare` does not finish its own answer, the
/// ones before it do. This is what a chain of wrapping closures does, at the cost of one async
/// frame per request for the whole chain instead of two per middleware.
package protocol Middleware: Sendable {
    /// Before the handler: a response here answers the request.
    func prepare(_ request: Request, context: inout RequestContext) -> Response?
    /// After the handler (or a later middleware's answer), with the context the handler saw.
    func finish(_ request: Request, context: RequestContext, response: inout Response)
}

extension Middleware {
    package func prepare(_ request: Request, context: inout RequestContext) -> Response? { nil }
    package func finish(_ request: Request, context: RequestContext, response: inout Response) {}
}

extension Array where Element == any Middleware {
    /// The pipeline around `handler`: every `prepare`, the handler (whatever it throws becomes
    /// the error response it stands for, `ErrorResponses`), then the `finish` hooks in reverse.
    package func wrapping(_ handler: @escaping Responder) -> Responder {
        let steps = self
        return { request, context in
            var context = context
            var prepared = steps.count
            var response: Response?
            for index in steps.indices {
                if let answer = steps[index].prepare(request, context: &context) {
                    response = answer
                    prepared = index
                    break
                }
            }
            var final: Response
            if let response {
                final = response
            } else {
                do {
                    final = try await handler(request, context)
                } catch {
                    final = ErrorResponses.response(for: error, context: context)
                }
            }
            var index = prepared
            while index > 0 {
                index -= 1
                steps[index].finish(request, context: context, response: &final)
            }
            return final
        }
    }
}
