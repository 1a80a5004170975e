package import Codecs

/// A response body of the API: it knows its JSON form exactly, including which keys are
/// `null` rather than absent (`docs/api-contract.md`, "Conventions", fixes both).
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

extension Int {
    /// The whole part of `value`, clamped to `Int`'s range (0 for NaN): ComfyUI accepts any
    /// number as a queue priority, and `Int(_:)` would trap on one beyond 2^63.
    package init(clampingWholePart value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9_223_372_036_854_775_808.0 {
            self = .max
        } else if value <= -9_223_372_036_854_775_808 {
            self = .min
        } else {
            self = Int(value.rounded(.down))
        }
    }
}
