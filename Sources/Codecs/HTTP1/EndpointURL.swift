/// An absolute `http://`, `https://`, `ws://` or `wss://` URL the gateway connects to or hands
/// out (`COMFYUI_URL`, `PUBLIC_BASE_URL`, the upstream WebSocket), parsed once by one parser:
/// scheme, host (a name, an IPv4 address or a bracketed IPv6 literal), port (the scheme's default
/// when absent), path without its trailing slashes, and query. User info (`user@`) is refused,
/// so a URL cannot smuggle a different host past a reader who stops at the `@`.
package struct EndpointURL: Sendable, Equatable {
    /// The schemes the gateway speaks.
    package enum Scheme: String, Sendable {
        case http, https, ws, wss

        /// 80 or 443.
        package var defaultPort: Int { self == .http || self == .ws ? 80 : 443 }
    }

    package let scheme: Scheme
    /// The host, without the brackets of an IPv6 literal.
    package let host: String
    package let port: Int
    /// `""` or `/a/b`: never ends with a slash.
    package let path: String
    /// What followed `?`, if anything (a fragment is dropped).
    package let query: String?
    /// The URL as given, without trailing slashes: how it is shown and how paths are appended.
    package let normalized: String

    /// Parses `text`; nil when it is not such a URL.
    package init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://"),
            let scheme = Scheme(rawValue: text[..<colon].lowercased())
        else { return nil }
        var rest = text[text.index(colon, offsetBy: 3)...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        guard !authority.isEmpty, !authority.contains(where: { $0 == "@" || $0.isWhitespace }) else { return nil }
        var host = authority[...]
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else { return nil }
        var port = scheme.defaultPort
        if let portText {
            guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(portText),
                (1...65535).contains(value)
            else { return nil }
            port = value
        }
        let afterAuthority = rest.dropFirst(authority.count)
        var path = afterAuthority.prefix { $0 != "?" }
        while path.hasSuffix("/") { path = path.dropLast() }
        let query = afterAuthority.dropFirst(path.count).drop { $0 == "/" }
        var normalized = text
        while normalized.hasSuffix("/") { normalized.removeLast() }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
        self.path = String(path)
        self.query = query.hasPrefix("?") ? String(query.dropFirst()) : nil
        self.normalized = normalized
    }

    /// `host[:port]` as a `Host` field says it: the port only when it is not the default, an
    /// IPv6 literal in brackets.
    package var authority: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return port == scheme.defaultPort ? bracketed : "\(bracketed):\(port)"
    }

    /// The request target for this URL: its path (`/` when empty) and query.
    package var resource: String {
        (path.isEmpty ? "/" : path) + (query.map { "?\($0)" } ?? "")
    }
}
