package import Codecs
import Synchronization

/// Who may call the gateway: the API keys and the CORS origins in force. Both can be replaced
/// while the server runs (a configuration reload on SIGHUP), so the middleware reads them
/// through this shared, lock-protected box rather than capturing them once.
package final class AccessPolicy: Sendable {
    /// One consistent view of the policy.
    package struct Rules: Sendable, Equatable {
        /// The accepted API keys; empty means no authentication.
        package var keys: SecretSet
        /// The origins allowed to call from a browser.
        package var origins: CORSOrigins

        package init(keys: SecretSet = SecretSet([]), origins: CORSOrigins = CORSOrigins([])) {
            self.keys = keys
            self.origins = origins
        }

        /// The rules of `API_KEYS` and `CORS_ORIGINS` (each a list; empty turns it off).
        package init(apiKeys: [String], corsOrigins: [String]) {
            self.init(keys: SecretSet(apiKeys), origins: CORSOrigins(corsOrigins))
        }
    }

    private let state: Mutex<Rules>

    package init(_ rules: Rules = Rules()) {
        state = Mutex(rules)
    }

    /// The rules in force now.
    package var rules: Rules {
        state.withLock { $0 }
    }

    /// Replaces the rules; requests that start afterwards see the new ones.
    package func replace(with rules: Rules) {
        state.withLock { $0 = rules }
    }
}

/// The origins allowed by `CORS_ORIGINS`: exact origins (`https://app.example.com`), or `*` for
/// any. Origins compare as ASCII case-insensitive strings without a trailing slash.
package struct CORSOrigins: Sendable, Equatable {
    /// True when `*` was listed.
    package let allowsAny: Bool
    private let allowed: Set<String>

    package init(_ origins: [String]) {
        let normalized = origins.map { Self.normalize($0) }.filter { !$0.isEmpty }
        allowsAny = normalized.contains("*")
        allowed = Set(normalized)
    }

    /// True when no origin is configured: CORS is off and no CORS header is ever sent.
    package var isDisabled: Bool { allowed.isEmpty }

    /// True when a browser page from `origin` may call the gateway.
    package func allows(_ origin: String) -> Bool {
        allowsAny || allowed.contains(Self.normalize(origin))
    }

    private static func normalize(_ origin: String) -> String {
        var text = origin.trimmingASCIIWhitespace().lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> String {
        let bytes = Array(utf8)
        guard let start = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let end = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return "" }
        return String(decoding: bytes[start...end], as: UTF8.self)
    }
}
