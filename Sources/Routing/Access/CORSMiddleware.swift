import Codecs

/// Cross-origin access for browser pages from the origins in `CORS_ORIGINS` (Fetch standard,
/// "CORS protocol"). Off, sending no CORS header at all, while no origin is configured.
///
/// A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) on a known path is
/// answered here, before any API key check (browsers send preflights without credentials):
/// 204 with the path's methods, the requested headers and a 10-minute max age, or 400 when the
/// origin is not allowed. Other requests from an allowed origin get `Access-Control-Allow-Origin`
/// and the headers a page may read (`X-Request-Id`, `Content-Disposition`, `WWW-Authenticate`),
/// errors included.
package struct CORSMiddleware: Middleware {
    private let policy: AccessPolicy

    package init(policy: AccessPolicy) {
        self.policy = policy
    }

    /// Answers a preflight (`OPTIONS` with `Access-Control-Request-Method`) of a path that has
    /// routes: allowed with the methods it has, or 400 for an origin not allowed.
    package func prepare(_ request: Request, context: inout RequestContext) -> Response? {
        let origins = policy.rules.origins
        guard !origins.isDisabled, let origin = request.headers[first: "Origin"], Self.isPreflight(request),
            let methods = context.parameters[Router.allowedMethodsKey]
        else { return nil }
        return Self.preflight(
            origin: origin, origins: origins, methods: methods,
            requestedHeaders: request.headers[first: "Access-Control-Request-Headers"], requestID: context.requestID)
    }

    /// Marks every response as varying by `Origin` and, for an allowed origin, allows it.
    package func finish(_ request: Request, context: RequestContext, response: inout Response) {
        let origins = policy.rules.origins
        guard !origins.isDisabled else { return }
        Self.varyByOrigin(origins, &response.headers)
        guard let origin = request.headers[first: "Origin"] else { return }
        // A preflight `prepare` did not answer (a path without routes) gets nothing more.
        if Self.isPreflight(request) { return }
        guard origins.allows(origin) else { return }
        Self.allow(origin, origins: origins, in: &response.headers)
        response.headers.replaceOrAdd(
            name: "Access-Control-Expose-Headers", value: "X-Request-Id, Content-Disposition, WWW-Authenticate")
    }

    private static func isPreflight(_ request: Request) -> Bool {
        request.method == .options && request.headers.contains("Access-Control-Request-Method")
    }

    private static func preflight(
        origin: String, origins: CORSOrigins, methods: String, requestedHeaders: String?,
        requestID: String
    ) -> Response {
        guard origins.allows(origin) else {
            return HTTPError(
                status: 400, code: .invalidRequest,
                message: "Cross-origin requests from '\(origin)' are not allowed (see CORS_ORIGINS).",
                details: ["origin": origin]
            ).makeResponse(requestID: requestID)
        }
        var response = Response(status: 204)
        allow(origin, origins: origins, in: &response.headers)
        let allowed = methods.split(separator: ",").map(String.init)
        response.headers.add(
            name: "Access-Control-Allow-Methods", value: (allowed + ["OPTIONS"]).joined(separator: ", "))
        if let requestedHeaders, !requestedHeaders.isEmpty {
            response.headers.add(name: "Access-Control-Allow-Headers", value: requestedHeaders)
        }
        response.headers.add(name: "Access-Control-Max-Age", value: "600")
        return response
    }

    private static func allow(_ origin: String, origins: CORSOrigins, in headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: origins.allowsAny ? "*" : origin)
        varyByOrigin(origins, &headers)
    }

    /// While the answer depends on the origin (a list, not `*`), every response says so, so that a
    /// cache never hands one origin's answer to another.
    private static func varyByOrigin(_ origins: CORSOrigins, _ headers: inout HTTPHeaders) {
        guard !origins.allowsAny else { return }
        let existing = headers[first: "Vary"]
        guard !(existing?.lowercased().contains("origin") ?? false) else { return }
        headers.replaceOrAdd(name: "Vary", value: existing.map { "\($0), Origin" } ?? "Origin")
    }
}
