/// A frame opcode (RFC 6455 section 5.2). A struct with static members rather than a closed enum:
/// the reserved values are representable so the decoder can reject them by value.
package struct WebSocketOpcode: Sendable, Hashable, CustomStringConvertible {
    package let rawValue: UInt8

    package init?(rawValue: UInt8) {
        guard rawValue <= 0x0F else { return nil }
        self.rawValue = rawValue
    }

    private init(_ rawValue: UInt8) { self.rawValue = rawValue }

    package static let continuation = WebSocketOpcode(0x0)
    package static let text = WebSocketOpcode(0x1)
    package static let binary = WebSocketOpcode(0x2)
    package static let close = WebSocketOpcode(0x8)
    package static let ping = WebSocketOpcode(0x9)
    package static let pong = WebSocketOpcode(0xA)

    /// Close, ping and pong (opcodes 0x8-0xF): at most 125 bytes, never fragmented.
    package var isControl: Bool { rawValue & 0x08 != 0 }

    /// One of the six opcodes RFC 6455 defines (the others are reserved: a protocol error).
    package var isDefined: Bool { rawValue <= 0x2 || (0x8...0xA).contains(rawValue) }

    package var description: String {
        switch rawValue {
        case 0x0: "continuation"
        case 0x1: "text"
        case 0x2: "binary"
        case 0x8: "close"
        case 0x9: "ping"
        case 0xA: "pong"
        default: "reserved(\(rawValue))"
        }
    }
}

/// One WebSocket frame with its payload unmasked.
package struct WebSocketFrame: Sendable, Equatable {
    package var fin: Bool
    /// The three RSV bits (RSV1 is 0x4); non-zero only with a negotiated extension.
    package var reserved: UInt8
    package var opcode: WebSocketOpcode
    package var payload: [UInt8]

    package init(fin: Bool = true, reserved: UInt8 = 0, opcode: WebSocketOpcode, payload: [UInt8] = []) {
        self.fin = fin
        self.reserved = reserved
        self.opcode = opcode
        self.payload = payload
    }
}
