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

    package nonisolated(nonsending) func handle(
        _ request: Request, context: RequestContext, next: Responder
    ) async throws -> Response {
        let origins = policy.rules.origins
        guard !origins.isDisabled else { return try await next(request, context) }
        guard let origin = request.headers[first: "Origin"] else {
            var response = try await next(request, context)
            Self.varyByOrigin(origins, &response.headers)
            return response
        }
        if request.method == .options, request.headers.contains("Access-Control-Request-Method") {
            guard let methods = context.parameters[Router.allowedMethodsKey] else {
                return try await next(request, context)
            }
            return Self.preflight(
                origin: origin, origins: origins, methods: methods,
                requestedHeaders: request.headers[first: "Access-Control-Request-Headers"],
                requestID: context.requestID)
        }
        var response = try await next(request, context)
        Self.varyByOrigin(origins, &response.headers)
        if origins.allows(origin) {
            Self.allow(origin, origins: origins, in: &response.headers)
            response.headers.replaceOrAdd(
                name: "Access-Control-Expose-Headers", value: "X-Request-Id, Content-Disposition, WWW-Authenticate")
        }
        return response
    }

    private static func preflight(
        origin: String, origins: CORSOrigins, methods: String, requestedHeaders: String?,
        requestID: String
    ) -> Response {
        guard origins.allows(origin) else {
            return HTTPError(
                status: 400, code: "INVALID_REQUEST",
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
