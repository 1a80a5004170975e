package import Codecs
package import Models

extension ComfyAPI {
    /// The history entry of `promptID`, or nil when ComfyUI has none (pending, running, unknown,
    /// evicted or from before a restart: ComfyUI answers `{}` for all of them).
    package func history(promptID: String) async throws(GatewayError) -> JSONValue? {
        let reply = try await exchange(.get, "/history/" + Self.queryEncoded(promptID))
        guard reply.status == 200 else { throw unexpected(reply, .queueOperationError, "GET /history/{id}") }
        guard let json = reply.json, let entries = json.objectValue else {
            throw malformed(reply, .queueOperationError, "GET /history/{id}")
        }
        return entries[promptID]
    }

    /// History entries keyed by prompt id: the last `maxItems` (all when nil), from `offset`.
    package func history(maxItems: Int? = nil, offset: Int? = nil) async throws(GatewayError) -> [String: JSONValue] {
        let target = Self.target(
            "/history", [("max_items", maxItems.map(String.init)), ("offset", offset.map(String.init))])
        let reply = try await exchange(.get, target)
        guard reply.status == 200 else { throw unexpected(reply, .queueOperationError, "GET /history") }
        guard let entries = reply.json?.objectValue else {
            throw malformed(reply, .queueOperationError, "GET /history")
        }
        return entries
    }

    /// Deletes these history entries (unknown ids are ignored).
    package func deleteHistory(_ promptIDs: [String]) async throws(GatewayError) {
        try await post("/history", ["delete": .array(promptIDs.map(JSONValue.string))], operation: "POST /history")
    }
}
