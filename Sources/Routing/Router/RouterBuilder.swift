package import Codecs

/// Collects routes, then freezes them into a `Router`.
///
/// Patterns are absolute paths whose segments are constants or `:name` captures
/// (`/api/v1/workflows/:prompt_id/history`). Each route is wrapped, when it is added, in the
/// middleware added before it, so add middleware first. A `GET` route also answers `HEAD`.
package final class RouterBuilder {
    private var middleware: [any Middleware] = []
    private var routes: [Route] = []

    package init() {}

    /// Adds middleware that wraps every route added after this call (and the 404/405 answers).
    package func add(middleware newMiddleware: any Middleware) {
        middleware.append(newMiddleware)
    }

    /// Adds a route. `maxBodyBytes` overrides the server's default body limit for it.
    package func on(
        _ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int? = nil, handler: @escaping Responder
    ) {
        add(method, pattern, maxBodyBytes: maxBodyBytes, responder: middleware.wrapping(handler), immediate: nil)
    }

    /// Adds a route whose handler never suspends: a request without a body is answered inside the
    /// read callback that completed it, without a task (one with a body, through the same
    /// pipeline in a task, once the body has arrived).
    package func on(_ method: HTTPMethod, _ pattern: String, immediate handler: @escaping ImmediateResponder) {
        let immediate = middleware.wrapping(immediate: handler)
        add(
            method, pattern, maxBodyBytes: nil, responder: { request, context in immediate(request, context) },
            immediate: immediate)
    }

    private func add(
        _ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int?, responder: @escaping Responder,
        immediate: ImmediatePipeline?
    ) {
        precondition(pattern.hasPrefix("/"), "route pattern must start with /: \(pattern)")
        let segments = pattern.split(separator: "/").map(String.init)
        precondition(
            !routes.contains { $0.method == method && $0.segments == segments },
            "route \(method) \(pattern) added twice")
        routes.append(
            Route(
                method: method, pattern: pattern, segments: segments, maxBodyBytes: maxBodyBytes,
                responder: responder, immediate: immediate, webSocket: nil))
    }

    package func get(_ pattern: String, handler: @escaping Responder) { on(.get, pattern, handler: handler) }

    /// Adds a WebSocket route: a GET with a valid upgrade is switched to the WebSocket protocol
    /// and `handler` runs with the socket; a GET without one is answered 426.
    package func webSocket(
        _ pattern: String, configuration: WebSocketConfiguration = WebSocketConfiguration(),
        handler: @escaping WebSocketHandler
    ) {
        on(.get, pattern) { _, _ in
            throw HTTPError(
                status: 426, code: .websocketError,
                message: "This route only speaks WebSocket; send an upgrade request.",
                headers: ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"])
        }
        routes[routes.count - 1].webSocket = WebSocketRoute(
            configuration: configuration, handler: handler,
            admission: middleware.wrapping { request, _ in
                do throws(WebSocketHandshake.Rejection) {
                    let accepted = try WebSocketHandshake.accept(
                        request.head, supportedProtocols: configuration.protocols)
                    return Response(status: 101, headers: accepted.headers)
                } catch {
                    var headers = HTTPHeaders()
                    if error == .unsupportedVersion { headers.add(name: "Sec-WebSocket-Version", value: "13") }
                    throw HTTPError(
                        status: error.status, code: .websocketError, message: error.message, headers: headers)
                }
            })
    }

    package func post(_ pattern: String, maxBodyBytes: Int? = nil, handler: @escaping Responder) {
        on(.post, pattern, maxBodyBytes: maxBodyBytes, handler: handler)
    }

    /// Freezes the routes into a trie. Requests for unknown paths or methods are answered through
    /// the full middleware chain with 404 or 405.
    package func freeze() -> Router {
        let fallback = middleware.wrapping(immediate: { request, context in
            let allowed = context.parameters[Router.allowedMethodsKey]
            if let allowed {
                throw HTTPError.methodNotAllowed(
                    request.method, allowed: allowed.split(separator: ",").map { HTTPMethod(String($0)) })
            }
            throw HTTPError.notFound(path: request.path)
        })
        return Router(trie: RouterTrie(routes: routes), fallback: fallback)
    }
}

/// One route as the builder recorded it.
struct Route: Sendable {
    let method: HTTPMethod
    let pattern: String
    let segments: [String]
    let maxBodyBytes: Int?
    let responder: Responder
    /// The same pipeline, callable without a task, for a handler that never suspends.
    let immediate: ImmediatePipeline?
    var webSocket: WebSocketRoute?
}
