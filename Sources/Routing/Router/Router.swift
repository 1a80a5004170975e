package import Codecs

/// The frozen routing table: finds the handler (already wrapped in its middleware) for a method
/// and path. Built by `RouterBuilder.freeze()`; immutable and shareable across connections.
package struct Router: Sendable {
    /// What a lookup found.
    package struct Match: Sendable {
        /// The handler wrapped in its middleware (for unknown routes: a 404/405 answer).
        package let responder: Responder
        /// Captured `:name` values, percent-decoded.
        package let parameters: [String: String]
        /// The route's pattern, or "" when nothing matched.
        package let pattern: String
        /// The route's own body limit, if it set one.
        package let maxBodyBytes: Int?
        /// The pipeline without a task, for a route whose handler never suspends (and the 404 and
        /// 405 answers).
        package var immediate: ImmediatePipeline? = nil
        /// Set for a WebSocket route.
        package var webSocket: WebSocketRoute? = nil
    }

    static let allowedMethodsKey = "\u{0}allowed-methods"

    private let trie: RouterTrie
    private let fallback: ImmediatePipeline
    private let fallbackResponder: Responder

    init(trie: RouterTrie, fallback: @escaping ImmediatePipeline) {
        self.trie = trie
        self.fallback = fallback
        fallbackResponder = { request, context in fallback(request, context) }
    }

    /// Looks up `method path`. A HEAD request uses the GET route when there is no HEAD route.
    package func match(method: HTTPMethod, path: Substring) -> Match {
        if let node = trie.exactNodes[path] {
            return match(method: method, node: node, captures: [])
        }
        let segments = path.split(separator: "/")
        guard let (node, captures) = trie.find(segments) else {
            return Match(
                responder: fallbackResponder, parameters: [:], pattern: "", maxBodyBytes: nil, immediate: fallback)
        }
        return match(method: method, node: node, captures: captures)
    }

    /// The route of `node` for `method`, or the 405 answer listing the node's methods.
    private func match(method: HTTPMethod, node: Int, captures: [(String, Substring)]) -> Match {
        let routes = trie.nodes[node].routes
        let route = routes.first { $0.method == method } ?? (method == .head ? routes.first { $0.method == .get } : nil)
        guard let route else {
            var allowed = routes.map(\.method)
            if allowed.contains(.get) && !allowed.contains(.head) { allowed.append(.head) }
            let list = allowed.map(\.rawValue).sorted().joined(separator: ",")
            return Match(
                responder: fallbackResponder, parameters: [Self.allowedMethodsKey: list], pattern: "",
                maxBodyBytes: nil,
                immediate: fallback)
        }
        var parameters: [String: String] = [:]
        for (name, value) in captures {
            parameters[name] = PercentDecoding.decodePath(value) ?? String(value)
        }
        return Match(
            responder: route.responder, parameters: parameters, pattern: route.pattern,
            maxBodyBytes: route.maxBodyBytes, immediate: route.immediate, webSocket: route.webSocket)
    }
}

extension PercentDecoding {
    /// Decodes `%XX` escapes of a path segment (a `+` stays a `+`).
    package static func decodePath(_ segment: Substring) -> String? {
        guard segment.contains("%") else { return String(segment) }
        return decode(
            Substring(segment.split(separator: "+", omittingEmptySubsequences: false).joined(separator: "%2B")))
    }
}
