package import Codecs

/// An error of the gateway's own, in API vocabulary: a code, a sentence, machine-readable details
/// (any JSON object: ComfyUI's `node_errors` are passed on unchanged).
package struct GatewayError: Error, Sendable, Equatable {
    package var code: ErrorCode
    package var status: Int
    package var message: String
    package var details: [String: JSONValue]

    package init(_ code: ErrorCode, status: Int? = nil, message: String, details: [String: JSONValue] = [:]) {
        self.code = code
        self.status = status ?? code.defaultStatus
        self.message = message
        self.details = details
    }
}
