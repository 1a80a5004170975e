/// The next step of the chain: the remaining middleware and, at the end, the route's handler.
///
/// `nonisolated(nonsending)`: it runs on the caller's executor, the event loop, so the chain of
/// middleware and handler costs no executor switch per step.
package typealias Responder = nonisolated(nonsending) @Sendable (Request, RequestContext) async throws -> Response

/// One step around every request: it may change the request or context, call `next`, and change
/// or replace the response. Middleware is composed once, when the router is frozen.
package protocol Middleware: Sendable {
    nonisolated(nonsending) func handle(_ request: Request, context: RequestContext, next: Responder) async throws
        -> Response
}

extension Array where Element == any Middleware {
    /// Wraps `responder` so the first middleware runs first.
    package func wrapping(_ responder: @escaping Responder) -> Responder {
        reversed().reduce(responder) { next, middleware in
            { request, context in try await middleware.handle(request, context: context, next: next) }
        }
    }
}
