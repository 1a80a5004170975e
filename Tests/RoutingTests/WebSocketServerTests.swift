import Codecs
import LoopbackTestSupport
import Reactor
import Routing
import Testing

/// The server side of WebSocket over real sockets: the upgrade, echo, pings, the closing
/// handshake, protocol errors, and bytes sent right after the handshake.
struct WebSocketServerTests {
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let mask: [UInt8] = [1, 2, 3, 4]

    static func upgrade(_ path: String = "/ws/a", extra: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\n"
            + "Sec-WebSocket-Version: 13\r\n\(extra)\r\n"
    }

    static func frame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, masked: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = []
        WebSocketFrameEncoder.encode(
            WebSocketFrame(fin: fin, opcode: opcode, payload: payload), maskingKey: masked ? mask : nil, into: &bytes)
        return bytes
    }

    /// Splits what the server sent into the 101 head and the frames after it.
    static func frames(after data: [UInt8]) -> (head: String, frames: [WebSocketFrame]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, data.count - 3)).first(where: { Array(data[$0..<($0 + 4)]) == separator }) else {
            return (String(decoding: data, as: UTF8.self), [])
        }
        var decoder = WebSocketFrameDecoder(role: .client)
        decoder.append(Array(data[(end + 4)...]))
        var frames: [WebSocketFrame] = []
        var partial: WebSocketFrame?
        while let frame = try? decoder.nextFrame(partial: &partial) { frames.append(frame) }
        return (String(decoding: data[..<end], as: UTF8.self), frames)
    }

    @Test func upgradeEchoPingAndClose() async throws {
        let running = try await HTTPServerTests.start()
        let client = try await running.client()
        try await client.send(Self.upgrade(extra: "Sec-WebSocket-Protocol: other, echo.v1\r\n"))
        try await client.send(
            Self.frame(.text, Array("hi".utf8)) + Self.frame(.ping, [7]) + Self.frame(.binary, [1, 2, 3]))
        let data = try await client.receive { Self.frames(after: $0).frames.count >= 3 }
        let (head, frames) = Self.frames(after: data)
        #expect(head.hasPrefix("HTTP/1.1 101 Switching Protocols"))
        #expect(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        #expect(head.contains("Sec-WebSocket-Protocol: echo.v1"))
        let echoed = frames.filter { $0.opcode != .pong }
        #expect(echoed.map(\.opcode) == [.text, .binary], "echoes keep their order")
        #expect(echoed.first?.payload == Array("hi".utf8))
        #expect(frames.contains(WebSocketFrame(opcode: .pong, payload: [7])), "the ping is answered with its payload")
        try await client.send(Self.frame(.close, WebSocketFrameEncoder.closePayload(code: 1000, reason: "bye")))
        #expect(try await client.waitForClose())
        let all = Self.frames(after: try await client.received()).frames
        #expect(all.last?.opcode == .close)
        #expect(all.last.map { try? WebSocketCloseCode.parse($0.payload).code } == 1000)
        await running.stop()
    }

    @Test func framesSentWithTheHandshakeAreNotLost() async throws {
        let running = try await HTTPServerTests.start()
        let client = try await running.client()
        try await client.send(Array(Self.upgrade().utf8) + Self.frame(.text, Array("early".utf8)))
        let frames = Self.frames(after: try await client.receive { Self.frames(after: $0).frames.count >= 1 }).frames
        #expect(frames.first?.payload == Array("early".utf8))
        await running.stop()
    }

    @Test func serverSpeaksFirstAfterTheUpgrade() async throws {
        let running = try await HTTPServerTests.start()
        let client = try await running.client()
        try await client.send(Self.upgrade("/ws/hello"))
        let frames = Self.frames(after: try await client.receive { Self.frames(after: $0).frames.count >= 1 }).frames
        #expect(frames.first == WebSocketFrame(opcode: .text, payload: Array("hello".utf8)))
        await running.stop()
    }

    @Test(arguments: [
        (frame(.text, [0x61], masked: false), UInt16(1002)),
        (frame(.text, [0xED, 0xA0, 0x80]), UInt16(1007)),
        (frame(.ping, [UInt8](repeating: 0, count: 10), fin: false), UInt16(1002)),
        (frame(.binary, [UInt8](repeating: 0, count: (1 << 20) + 1)), UInt16(1009)),
    ])
    func protocolErrorsCloseWithTheirCode(bytes: [UInt8], code: UInt16) async throws {
        let running = try await HTTPServerTests.start()
        let client = try await running.client()
        try await client.send(Array(Self.upgrade().utf8) + bytes)
        #expect(try await client.waitForClose())
        let frames = Self.frames(after: try await client.received()).frames
        #expect(frames.last?.opcode == .close)
        #expect(frames.last.flatMap { try? WebSocketCloseCode.parse($0.payload).code } == code)
        await running.stop()
    }

    @Test func plainGetIs426AndBadVersionIs426WithTheVersion() async throws {
        let running = try await HTTPServerTests.start()
        let plain = try await running.client()
        try await plain.send("GET /ws/a HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await plain.responses(1).first?.status == 426)
        let old = try await running.client()
        try await old.send(Self.upgrade().replacingVersion())
        let response = try await old.responses(1).first
        #expect(response?.status == 426)
        #expect(response?.head.headers[first: "Sec-WebSocket-Version"] == "13")
        await running.stop()
    }

    @Test func idlePeersArePingedAndSilentOnesDisconnected() async throws {
        let running = try await HTTPServerTests.start()
        let answering = try await running.client()
        let silent = try await running.client()
        try await answering.send(Self.upgrade("/quiet"))
        try await silent.send(Self.upgrade("/quiet"))
        let pings: @Sendable ([UInt8]) -> Int = { Self.frames(after: $0).frames.filter { $0.opcode == .ping }.count }
        let first = try await answering.receive { pings($0) >= 1 }
        #expect(pings(first) >= 1, "an idle peer is pinged")
        try await answering.send(Self.frame(.pong, []))
        #expect(try await silent.waitForClose(timeout: .seconds(6)), "a peer that never answers is disconnected")
        // The answered peer is pinged again one interval after its pong, later than the silent
        // one was dropped: the second ping proves it stayed open (whatever the test's own delays).
        let second = try await answering.receive(timeout: .seconds(6)) { pings($0) >= 2 }
        #expect(pings(second) >= 2, "a peer that answered stays open and is pinged again")
        await running.stop()
    }

    @Test func shutdownClosesWebSocketsWith1001() async throws {
        let running = try await HTTPServerTests.start()
        let client = try await running.client()
        try await client.send(Self.upgrade())
        _ = try await client.receive { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }
        async let stopped: Void = running.server.shutdown()
        let data = try await client.receive { Self.frames(after: $0).frames.contains { $0.opcode == .close } }
        let close = Self.frames(after: data).frames.first { $0.opcode == .close }
        #expect(close.flatMap { try? WebSocketCloseCode.parse($0.payload).code } == 1001)
        try await client.send(Self.frame(.close, WebSocketFrameEncoder.closePayload(code: 1001)))
        await stopped
        #expect(try await client.waitForClose())
        running.loop.shutdown()
    }
}

extension String {
    fileprivate func replacingVersion() -> String {
        split(separator: "\r\n", omittingEmptySubsequences: false).map {
            $0.hasPrefix("Sec-WebSocket-Version") ? "Sec-WebSocket-Version: 8" : String($0)
        }.joined(separator: "\r\n")
    }
}
