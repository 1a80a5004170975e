import Client
package import Reactor

extension ComfyAPI {
    /// A client for the ComfyUI at `baseURL` (`http://host:port[/path]`) with its own connection
    /// pool on `loop`: at most `maxConnections` connections, `timeoutSeconds` to wait for an answer.
    package init(baseURL: String, timeoutSeconds: Double, maxConnections: Int = 16, loop: EventLoop) {
        let (host, port, path) = Self.parts(of: baseURL)
        self.init(
            host: host, port: port, pathPrefix: path, timeoutSeconds: timeoutSeconds, maxConnections: maxConnections,
            loop: loop)
    }

    /// A client for the ComfyUI at `host`:`port` under `pathPrefix`, already parsed.
    package init(
        host: String, port: Int, pathPrefix: String, timeoutSeconds: Double, maxConnections: Int = 16,
        loop: EventLoop
    ) {
        var configuration = HTTPClient.Configuration(host: host, port: port)
        configuration.maxConnections = maxConnections
        configuration.requestTimeout = .milliseconds(Int64(timeoutSeconds * 1000))
        configuration.connectTimeout = .milliseconds(Int64(min(timeoutSeconds, 10) * 1000))
        self.init(client: HTTPClient(loop: loop, configuration: configuration), pathPrefix: pathPrefix)
    }

    /// The host, port (80 when none is given) and path (without a trailing slash) of an
    /// `http://host[:port][/path]` URL.
    package static func parts(of url: String) -> (host: String, port: Int, path: String) {
        var rest = Substring(url)
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") {
            rest = rest[rest.index(colon, offsetBy: 3)...]
        }
        let authority = rest.prefix { $0 != "/" }
        var path = String(rest.dropFirst(authority.count))
        while path.hasSuffix("/") { path.removeLast() }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            return (host, after.hasPrefix(":") ? Int(after.dropFirst()) ?? 80 : 80, path)
        }
        if let colon = authority.lastIndex(of: ":") {
            return (String(authority[..<colon]), Int(authority[authority.index(after: colon)...]) ?? 80, path)
        }
        return (String(authority), 80, path)
    }
}

extension ComfyAPI {
    /// Closes the pooled connections; calls after this fail. Call on the loop.
    package func shutdown() {
        client.shutdown()
    }

    /// The loop the calls run on (the executor a task calling them should prefer).
    package var loop: EventLoop { client.loop }
}
