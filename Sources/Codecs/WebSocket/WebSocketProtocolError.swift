/// Why a WebSocket peer is failed, with the close code the endpoint sends (RFC 6455 section 7.4).
package enum WebSocketProtocolError: Error, Sendable, Equatable {
    /// A framing rule was broken (RSV bits, reserved opcode, masking, control frame rules,
    /// continuation out of place, a malformed close payload): 1002.
    case protocolError(String)
    /// A text message or close reason that is not valid UTF-8: 1007.
    case invalidUTF8
    /// A frame or message over the configured size: 1009.
    case messageTooBig(limit: Int)

    /// The close code to send.
    package var closeCode: UInt16 {
        switch self {
        case .protocolError: 1002
        case .invalidUTF8: 1007
        case .messageTooBig: 1009
        }
    }

    /// A short reason for the close frame and logs.
    package var reason: String {
        switch self {
        case .protocolError(let detail): detail
        case .invalidUTF8: "invalid UTF-8"
        case .messageTooBig(let limit): "message over \(limit) bytes"
        }
    }
}
