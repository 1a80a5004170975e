package import Codecs
package import Models

extension ComfyAPI {
    /// `GET /system_stats`: versions, RAM, devices. Cheap and side-effect free, so also the
    /// readiness probe.
    package func systemStats() async throws(GatewayError) -> JSONValue {
        try await json("/system_stats")
    }

    /// `GET /object_info` (every node class), or one class's entry set (`{}` for an unknown one).
    package func objectInfo(nodeClass: String? = nil) async throws(GatewayError) -> JSONValue {
        try await json(nodeClass.map { "/object_info/" + Self.queryEncoded($0) } ?? "/object_info")
    }

    /// A GET answered with JSON; another status is an `INTERNAL_ERROR` naming it.
    private func json(_ path: String) async throws(GatewayError) -> JSONValue {
        let reply = try await exchange(.get, path)
        guard reply.status == 200 else { throw unexpected(reply, .internalError, "GET \(path)") }
        guard let json = reply.json else { throw malformed(reply, .internalError, "GET \(path)") }
        return json
    }
}
