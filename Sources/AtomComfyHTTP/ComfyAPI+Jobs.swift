package import Codecs
package import Models
import Reactor

/// ComfyUI's job routes (0.25 and later; 0.3.64 has none): `GET /api/jobs/{id}` for one prompt's
/// state and `POST /api/jobs/{id}/cancel`, which interrupts a running prompt or removes a pending
/// one in one step, where the older routes need a queue read first (and race with the prompt
/// starting in between).
extension ComfyAPI {
    /// Whether this ComfyUI has the job routes: asked once (`GET /api/jobs?limit=1`), then
    /// remembered until `forgetJobRoutes()`. An answer that says neither (an error, a timeout) is
    /// not remembered.
    package func hasJobRoutes() async throws(GatewayError) -> Bool {
        if let known = jobRoutes.withLock({ $0 }) { return known }
        let reply = try await exchange(.get, "/api/jobs?limit=1")
        let known: Bool? =
            switch reply.status {
            case 200: reply.json?["jobs"]?.arrayValue != nil
            case 404, 405: false
            default: nil
            }
        guard let known else { throw unexpected(reply, .queueOperationError, "GET /api/jobs") }
        jobRoutes.withLock { $0 = known }
        return known
    }

    /// Forgets what `hasJobRoutes()` found (ComfyUI restarted, perhaps as another version).
    package func forgetJobRoutes() {
        jobRoutes.withLock { $0 = nil }
    }

    /// `GET /api/jobs/{id}`: the job (`status` is `pending`, `in_progress`, `completed`, `failed` or
    /// `cancelled`), or nil when ComfyUI does not know it (a pending job that was cancelled leaves
    /// no trace).
    package func job(_ promptID: String) async throws(GatewayError) -> JSONValue? {
        let reply = try await exchange(.get, "/api/jobs/" + Self.queryEncoded(promptID))
        switch reply.status {
        case 200:
            guard let json = reply.json, json["status"]?.stringValue != nil else {
                throw malformed(reply, .queueOperationError, "GET /api/jobs/{id}")
            }
            return json
        case 404: return nil
        default: throw unexpected(reply, .queueOperationError, "GET /api/jobs/{id}")
        }
    }

    /// `POST /api/jobs/{id}/cancel`: true when the job was running (now interrupted) or pending
    /// (now removed); false when it had ended or is unknown.
    package func cancelJob(_ promptID: String) async throws(GatewayError) -> Bool {
        let reply = try await exchange(.post, "/api/jobs/" + Self.queryEncoded(promptID) + "/cancel", json: [:])
        guard reply.status == 200 else { throw unexpected(reply, .queueOperationError, "POST /api/jobs/{id}/cancel") }
        guard case .bool(let cancelled)? = reply.json?["cancelled"] else {
            throw malformed(reply, .queueOperationError, "POST /api/jobs/{id}/cancel")
        }
        return cancelled
    }
}
