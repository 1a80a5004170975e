import Codecs

/// Requires an API key on every route but the open ones (`/health`, `/ready`) when keys are
/// configured. A key is accepted as `Authorization: Bearer <key>` or `X-API-Key: <key>`, and on
/// a WebSocket route also as the `token` query parameter (browsers cannot set headers on a
/// WebSocket). Keys are compared in constant time (`SecretSet`). A request without a key, or
/// with a wrong one in any of these places, is answered 401 `UNAUTHORIZED` with a
/// `WWW-Authenticate` challenge (RFC 9110 §11.6.1, RFC 6750 §3).
package struct APIKeyMiddleware: Middleware {
    private let policy: AccessPolicy
    private let openPatterns: Set<String>

    /// - Parameter openPatterns: route patterns that need no key.
    package init(policy: AccessPolicy, openPatterns: Set<String>) {
        self.policy = policy
        self.openPatterns = openPatterns
    }

    package func prepare(_ request: Request, context: inout RequestContext) -> Response? {
        let keys = policy.rules.keys
        guard !keys.isEmpty, !openPatterns.contains(context.routePattern) else { return nil }
        switch Self.credential(of: request, webSocketRoute: context.isWebSocketRoute) {
        case .none:
            return Self.unauthorized(
                "An API key is required: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                challenge: #"Bearer realm="comfy-gateway""#, requestID: context.requestID)
        case .malformed(let reason):
            return Self.unauthorized(
                reason, challenge: #"Bearer realm="comfy-gateway", error="invalid_request""#,
                requestID: context.requestID)
        case .presented(let key):
            guard keys.contains(key) else {
                return Self.unauthorized(
                    "The API key is not valid.", challenge: #"Bearer realm="comfy-gateway", error="invalid_token""#,
                    requestID: context.requestID)
            }
            return nil
        }
    }

    /// An answer given to a key holder is not for shared caches: `public` becomes `private`.
    package func finish(_ request: Request, context: RequestContext, response: inout Response) {
        guard !policy.rules.keys.isEmpty, !openPatterns.contains(context.routePattern) else { return }
        response = Self.privately(response)
    }

    static func privately(_ response: Response) -> Response {
        guard let cacheControl = response.headers[first: "Cache-Control"], cacheControl.contains("public") else {
            return response
        }
        var response = response
        response.headers.replaceOrAdd(
            name: "Cache-Control",
            value: cacheControl.split(separator: ",").map { directive in
                let trimmed = directive.filter { $0 != " " && $0 != "\t" }
                return trimmed.lowercased() == "public" ? "private" : trimmed
            }.joined(separator: ", "))
        return response
    }

    /// What a request presented as its key.
    enum Credential: Equatable {
        case none
        case presented(String)
        case malformed(String)
    }

    /// The key a request carries. When it carries several, they must agree: a request is not
    /// let in by one right key next to a wrong one.
    static func credential(of request: Request, webSocketRoute: Bool) -> Credential {
        var presented: [String] = []
        for value in request.headers[all: "Authorization"] {
            let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                return .malformed("The Authorization header must be 'Bearer <key>'.")
            }
            presented.append(String(parts[1].drop { $0 == " " }))
        }
        presented.append(contentsOf: request.headers[all: "X-API-Key"])
        if webSocketRoute, let token = request.queryParameters["token"] {
            presented.append(token)
        }
        guard let first = presented.first else { return .none }
        guard presented.allSatisfy({ $0 == first }) else {
            return .malformed("The request carries different API keys.")
        }
        return .presented(first)
    }

    private static func unauthorized(_ message: String, challenge: String, requestID: String) -> Response {
        HTTPError(status: 401, code: .unauthorized, message: message, headers: ["WWW-Authenticate": challenge])
            .makeResponse(requestID: requestID)
    }
}
