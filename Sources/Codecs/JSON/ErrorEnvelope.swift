/// The one shape every error of the API takes: `{"code", "message", "details", "request_id"}`,
/// under `"error"` in an HTTP error body and in a WebSocket `system` `error` message alike. Built
/// here once so the server's own errors, the gateway's and the socket's cannot drift apart.
package enum ErrorEnvelope {
    /// The error object itself.
    package static func error(
        code: String, message: String, details: [String: JSONValue], requestID: String
    ) -> JSONValue {
        [
            "code": .string(code), "message": .string(message), "details": .object(details),
            "request_id": .string(requestID),
        ]
    }

    /// An HTTP error body: `{"error": {...}}`.
    package static func body(
        code: String, message: String, details: [String: JSONValue], requestID: String
    ) -> JSONValue {
        ["error": error(code: code, message: message, details: details, requestID: requestID)]
    }
}
