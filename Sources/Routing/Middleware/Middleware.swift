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

/// A handler that answers without suspending (from memory: a constant, a snapshot of counters).
/// The server runs it, with its middleware, inside the read callback that completed the request:
/// no task is made for it.
package typealias ImmediateResponder = @Sendable (Request, RequestContext) throws -> Response

/// An immediate handler with its middleware around it: what it throws has already become its
/// error response, so it always answers.
package typealias ImmediatePipeline = @Sendable (Request, RequestContext) -> Response

extension Array where Element == any Middleware {
    /// The pipeline around `handler`: every `prepare`, the handler (whatever it throws becomes
    /// the error response it stands for, `ErrorResponses`), then the `finish` hooks in reverse.
    package func wrapping(_ handler: @escaping Responder) -> Responder {
        let steps = self
        return { request, context in
            var context = context
            let (answer, prepared) = steps.prepare(request, context: &context)
            var response: Response
            if let answer {
                response = answer
            } else {
                do {
                    response = try await handler(request, context)
                } catch {
                    response = ErrorResponses.response(for: error, context: context)
                }
            }
            steps.finish(request, context: context, response: &response, prepared: prepared)
            return response
        }
    }

    /// The same pipeline around a handler that never suspends.
    package func wrapping(immediate handler: @escaping ImmediateResponder) -> ImmediatePipeline {
        let steps = self
        return { request, context in
            var context = context
            let (answer, prepared) = steps.prepare(request, context: &context)
            var response: Response
            if let answer {
                response = answer
            } else {
                do {
                    response = try handler(request, context)
                } catch {
                    response = ErrorResponses.response(for: error, context: context)
                }
            }
            steps.finish(request, context: context, response: &response, prepared: prepared)
            return response
        }
    }

    /// Every `prepare` in order, until one answers: its answer, and how many middleware prepared
    /// (the ones whose `finish` runs).
    private func prepare(_ request: Request, context: inout RequestContext) -> (Response?, prepared: Int) {
        for index in indices {
            if let answer = self[index].prepare(request, context: &context) { return (answer, index) }
        }
        return (nil, count)
    }

    /// The `finish` hooks of the first `prepared` middleware, in reverse.
    private func finish(_ request: Request, context: RequestContext, response: inout Response, prepared: Int) {
        var index = prepared
        while index > 0 {
            index -= 1
            self[index].finish(request, context: context, response: &response)
        }
    }
}
