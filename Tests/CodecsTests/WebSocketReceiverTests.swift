import Codecs
import Testing

/// The receiving half both ends share: messages, automatic pongs, the closing handshake, failures.
struct WebSocketReceiverTests {
    static func masked(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = []
        WebSocketFrameEncoder.encode(
            WebSocketFrame(fin: fin, opcode: opcode, payload: payload), maskingKey: [9, 8, 7, 6], into: &bytes)
        return bytes
    }

    @Test func aPongIsReportedInOrderWithTheMessagesAroundIt() {
        var receiver = WebSocketReceiver(role: .server, maxMessageSize: 1024)
        let events = receiver.receive(
            Self.masked(.text, Array("a".utf8)) + Self.masked(.pong, [7, 7]) + Self.masked(.binary, [2]))
        #expect(events == [.message(.text("a")), .pong([7, 7]), .message(.binary([2]))])
    }

    @Test func messagesPongsAndClose() {
        var receiver = WebSocketReceiver(role: .server, maxMessageSize: 1024)
        let events = receiver.receive(
            Self.masked(.text, Array("a".utf8), fin: false) + Self.masked(.ping, [1])
                + Self.masked(.continuation, Array("b".utf8))
                + Self.masked(.binary, [2]))
        #expect(
            events == [
                .perform(.send(WebSocketFrame(opcode: .pong, payload: [1]))), .message(.text("ab")),
                .message(.binary([2])),
            ])
        let closing = receiver.receive(
            Self.masked(.close, WebSocketFrameEncoder.closePayload(code: 1001)) + Self.masked(.text, [0x61]))
        #expect(
            closing == [
                .perform(
                    .sendAndClose(
                        WebSocketFrame(opcode: .close, payload: WebSocketFrameEncoder.closePayload(code: 1001))))
            ])
        #expect(receiver.closing.state == .closed)
        #expect(receiver.receive(Self.masked(.text, [0x61])) == [], "nothing is delivered after the close")
    }

    @Test func aProtocolErrorFailsOnce() {
        var receiver = WebSocketReceiver(role: .server, maxMessageSize: 1024)
        let events = receiver.receive(Self.masked(.text, [0xFF]))
        #expect(
            events == [
                .perform(
                    .sendAndClose(
                        WebSocketFrame(
                            opcode: .close,
                            payload: WebSocketFrameEncoder.closePayload(code: 1007, reason: "invalid UTF-8"))))
            ])
        #expect(receiver.receive(Self.masked(.text, [0x61])) == [])
    }
}
