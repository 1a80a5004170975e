/// Encodes WebSocket frames (RFC 6455 section 5.2) with the shortest length form. A client
/// passes the frame's 4-byte masking key (fresh and random for every frame, section 5.3); a
/// server passes none.
package enum WebSocketFrameEncoder {
    /// Appends `frame` to `bytes`, masked with `maskingKey` when given.
    package static func encode(_ frame: WebSocketFrame, maskingKey: [UInt8]? = nil, into bytes: inout [UInt8]) {
        precondition(maskingKey == nil || maskingKey?.count == 4, "a masking key has 4 bytes")
        bytes.append((frame.fin ? 0x80 : 0) | (frame.reserved & 0x07) << 4 | frame.opcode.rawValue)
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        let length = frame.payload.count
        if length <= 125 {
            bytes.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            bytes.append(maskBit | 126)
            bytes.append(UInt8(length >> 8))
            bytes.append(UInt8(length & 0xFF))
        } else {
            bytes.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((length >> shift) & 0xFF)) }
        }
        guard let maskingKey else {
            bytes.append(contentsOf: frame.payload)
            return
        }
        bytes.append(contentsOf: maskingKey)
        let start = bytes.count
        bytes.append(contentsOf: frame.payload)
        for index in 0..<length { bytes[start + index] ^= maskingKey[index & 3] }
    }

    /// The payload of a close frame: the code, then the UTF-8 reason (cut to fit 123 bytes).
    package static func closePayload(code: UInt16, reason: String = "") -> [UInt8] {
        var reasonBytes = Array(reason.utf8.prefix(123))
        var validator = UTF8Validator()
        while !(validator.feed(reasonBytes) && validator.isComplete) {
            reasonBytes.removeLast()
            validator = UTF8Validator()
        }
        return [UInt8(code >> 8), UInt8(code & 0xFF)] + reasonBytes
    }
}
