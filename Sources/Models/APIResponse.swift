/// A response body of the API: it knows its JSON form exactly, including which keys are
/// `null` rather than absent (API.md fixes both).
package protocol APIResponse: Sendable {
    var json: JSONValue { get }
}

extension Optional where Wrapped == String {
    /// The string, or JSON `null`.
    package var jsonValue: JSONValue { map(JSONValue.string) ?? .null }
}

extension Optional where Wrapped == Int {
    /// The number, or JSON `null`.
    package var jsonValue: JSONValue { map { .int(Int64($0)) } ?? .null }
}

/// The body of `GET /ready` when ComfyUI answers.
package struct Readiness: APIResponse, Equatable {
    package var upstream: String

    package init(upstream: String) {
        self.upstream = upstream
    }

    package var json: JSONValue { ["status": "ready", "comfyui": .string(upstream)] }
}
