/// A server-to-client data message already encoded as a frame, so a broadcast encodes it once
/// and writes the same bytes to every socket. The gateway's sessions deliver these: the layers
/// that make a message and the route that writes it share this one type.
package struct PreparedMessage: Sendable {
    /// The whole unmasked frame.
    package let bytes: [UInt8]

    /// A text message.
    package init(text: String) {
        self.init(WebSocketFrame(opcode: .text, payload: Array(text.utf8)))
    }

    /// A text message already encoded as UTF-8 (the caller guarantees it is valid UTF-8).
    package init(utf8Text: [UInt8]) {
        self.init(WebSocketFrame(opcode: .text, payload: utf8Text))
    }

    /// A binary message.
    package init(binary: [UInt8]) {
        self.init(WebSocketFrame(opcode: .binary, payload: binary))
    }

    private init(_ frame: WebSocketFrame) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frame.payload.count + 10)
        WebSocketFrameEncoder.encode(frame, into: &bytes)
        self.bytes = bytes
    }
}
