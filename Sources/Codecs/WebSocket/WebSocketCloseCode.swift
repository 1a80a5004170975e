/// Close codes (RFC 6455 section 7.4) and the close frame payload.
package enum WebSocketCloseCode {
    /// Codes that may appear in a close frame: 1000-1003, 1007-1014 from the IANA registry, and
    /// the 3000-4999 ranges for libraries and applications. 1004, 1005, 1006 and 1015 are
    /// reserved and never sent; anything else is a protocol error.
    package static func isValidOnTheWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    /// Parses a received close payload: empty (no code, reported as 1005), or a valid code plus
    /// a UTF-8 reason.
    package static func parse(_ payload: [UInt8]) throws(WebSocketProtocolError) -> (code: UInt16, reason: String) {
        if payload.isEmpty { return (1005, "") }
        guard payload.count >= 2 else { throw .protocolError("close payload of one byte") }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard isValidOnTheWire(code) else { throw .protocolError("invalid close code \(code)") }
        var validator = UTF8Validator()
        let reason = payload[2...]
        guard validator.feed(reason), validator.isComplete else { throw .invalidUTF8 }
        return (code, String(decoding: reason, as: UTF8.self))
    }
}
