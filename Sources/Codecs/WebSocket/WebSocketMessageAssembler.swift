/// Turns decoded frame parts into messages: joins continuation frames, lets control frames
/// arrive between the fragments of a data message, validates text as UTF-8 byte by byte (the
/// first invalid byte fails the message with 1007, even mid-frame), and enforces a maximum
/// message size (1009).
package struct WebSocketMessageAssembler: Sendable {
    /// A complete message.
    package enum Message: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
        case ping([UInt8])
        case pong([UInt8])
        /// A close frame: its code (1005 when it carried none) and reason.
        case close(code: UInt16, reason: String)
    }

    private struct DataMessage: Sendable {
        var isText: Bool
        var bytes: [UInt8] = []
        var validator = UTF8Validator()
    }

    package let maxMessageSize: Int
    private var message: DataMessage?
    /// The frame being read: a control frame (with its opcode) or a data frame (fin flag).
    private var controlOpcode: WebSocketOpcode?
    private var controlPayload: [UInt8] = []
    private var dataFrameIsFinal = false

    package init(maxMessageSize: Int = 16 * 1024 * 1024) {
        self.maxMessageSize = maxMessageSize
    }

    /// Consumes one part; returns a message when one is complete.
    package mutating func consume(_ part: WebSocketFrameDecoder.Part) throws(WebSocketProtocolError) -> Message? {
        switch part {
        case .head(let header):
            if header.opcode.isControl {
                controlOpcode = header.opcode
                controlPayload = []
                return nil
            }
            controlOpcode = nil
            dataFrameIsFinal = header.fin
            if header.opcode == .continuation {
                guard message != nil else { throw .protocolError("continuation frame without a message") }
            } else {
                guard message == nil else { throw .protocolError("new data frame inside a fragmented message") }
                message = DataMessage(isText: header.opcode == .text)
            }
            return nil
        case .payload(let bytes):
            if controlOpcode != nil {
                controlPayload += bytes
                return nil
            }
            guard var current = message else { preconditionFailure("Internal inconsistency: payload without a frame") }
            guard current.bytes.count + bytes.count <= maxMessageSize else {
                throw .messageTooBig(limit: maxMessageSize)
            }
            if current.isText && !current.validator.feed(bytes) { throw .invalidUTF8 }
            message = nil
            current.bytes += bytes
            message = current
            return nil
        case .end:
            if let opcode = controlOpcode {
                controlOpcode = nil
                switch opcode {
                case .ping: return .ping(controlPayload)
                case .pong: return .pong(controlPayload)
                default:
                    let (code, reason) = try WebSocketCloseCode.parse(controlPayload)
                    return .close(code: code, reason: reason)
                }
            }
            guard dataFrameIsFinal, let current = message else { return nil }
            message = nil
            if current.isText {
                guard current.validator.isComplete else { throw .invalidUTF8 }
                return .text(String(decoding: current.bytes, as: UTF8.self))
            }
            return .binary(current.bytes)
        }
    }
}
