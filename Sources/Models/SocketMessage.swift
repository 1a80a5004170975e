package import Codecs

/// A text message on the gateway WebSocket: `{"type": ..., "data": {...}}`
/// (`docs/api-contract.md`, "WebSocket").
package struct SocketMessage: Sendable, Equatable {
    package var type: String
    package var data: JSONValue

    package init(type: String, data: JSONValue) {
        self.type = type
        self.data = data
    }

    /// A `system` message for a gateway event (`connected`, `submitted`, `error`, ...).
    package static func system(_ event: String, _ fields: [String: JSONValue] = [:]) -> SocketMessage {
        var data = fields
        data["event"] = .string(event)
        return SocketMessage(type: "system", data: .object(data))
    }

    /// The `system` `error` message carrying `error` in the API's error shape.
    package static func error(_ error: GatewayError, requestID: String) -> SocketMessage {
        system(
            "error",
            [
                "error": ErrorEnvelope.error(
                    code: error.code.rawValue, message: error.message, details: error.details, requestID: requestID)
            ])
    }

    package var json: JSONValue { ["type": .string(type), "data": data] }

    /// The message as UTF-8 JSON text.
    package func serialized() -> [UInt8] { json.serialized() }

    /// The message framed for the gateway's sockets, once for every socket it goes to.
    package var prepared: PreparedMessage { PreparedMessage(utf8Text: serialized()) }
}
