import Codecs
import Testing

/// RFC 6455 framing, message assembly, close payloads and UTF-8 validation. Every byte stream
/// is fed whole, byte by byte and split at every index, and must give the same messages.
struct WebSocketCodecTests {
    typealias Message = WebSocketMessageAssembler.Message

    /// Decodes `bytes` split at `splits`; returns the messages and the first error.
    static func decode(
        _ bytes: [UInt8], role: WebSocketFrameDecoder.Role, splits: [Int], maxSize: Int = 1 << 20
    ) -> (messages: [Message], error: WebSocketProtocolError?) {
        var decoder = WebSocketFrameDecoder(role: role, maxFrameSize: maxSize)
        var assembler = WebSocketMessageAssembler(maxMessageSize: maxSize)
        var messages: [Message] = []
        var start = 0
        for end in splits + [bytes.count] where end >= start {
            decoder.append(Array(bytes[start..<end]))
            start = end
            do {
                while let part = try decoder.next() {
                    if let message = try assembler.consume(part) { messages.append(message) }
                }
            } catch {
                return (messages, error)
            }
        }
        return (messages, nil)
    }

    /// Checks that every feeding gives `expected` (and `error`).
    static func expectDecodes(
        _ bytes: [UInt8], role: WebSocketFrameDecoder.Role, to expected: [Message],
        error: WebSocketProtocolError? = nil,
        maxSize: Int = 1 << 20, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var feedings: [[Int]] = [[]]
        if bytes.count <= 600 {
            feedings.append(Array(0..<bytes.count))
            for index in 1..<max(bytes.count, 1) { feedings.append([index]) }
        } else {
            feedings.append(Array(stride(from: 0, to: bytes.count, by: 997)))
            feedings.append([1, 2, 3, 5, 9, 13, bytes.count / 2])
        }
        for splits in feedings {
            let result = decode(bytes, role: role, splits: splits, maxSize: maxSize)
            #expect(result.messages == expected, "splits \(splits.prefix(5))", sourceLocation: sourceLocation)
            #expect(result.error == error, "splits \(splits.prefix(5))", sourceLocation: sourceLocation)
        }
    }

    static func frame(
        _ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, mask: [UInt8]? = nil, reserved: UInt8 = 0
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        WebSocketFrameEncoder.encode(
            WebSocketFrame(fin: fin, reserved: reserved, opcode: opcode, payload: payload), maskingKey: mask,
            into: &bytes)
        return bytes
    }

    static let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    // MARK: RFC 6455 section 5.7 examples

    @Test func rfcExamples() {
        let hello = Array("Hello".utf8)
        Self.expectDecodes([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], role: .client, to: [.text("Hello")])
        Self.expectDecodes(
            [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], role: .server, to: [.text("Hello")])
        Self.expectDecodes(
            [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F], role: .client, to: [.text("Hello")])
        Self.expectDecodes([0x89, 0x05] + hello, role: .client, to: [.ping(hello)])
        Self.expectDecodes(
            [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], role: .server, to: [.pong(hello)])
        let binary256 = [UInt8](repeating: 0xAB, count: 256)
        Self.expectDecodes([0x82, 0x7E, 0x01, 0x00] + binary256, role: .client, to: [.binary(binary256)])
        let binary64k = (0..<65536).map { UInt8(truncatingIfNeeded: $0) }
        Self.expectDecodes(
            [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + binary64k, role: .client, to: [.binary(binary64k)])
    }

    @Test(arguments: [0, 1, 125, 126, 127, 65535, 65536, 1 << 20])
    func encoderRoundTripsEveryLengthForm(size: Int) {
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        Self.expectDecodes(Self.frame(.binary, payload, mask: Self.key), role: .server, to: [.binary(payload)])
        Self.expectDecodes(Self.frame(.binary, payload), role: .client, to: [.binary(payload)])
        let header = Self.frame(.binary, payload).count - size
        #expect(header == (size <= 125 ? 2 : size <= 65535 ? 4 : 10), "shortest length form")
    }

    // MARK: Framing errors (1002, 1009)

    @Test func framingRulesAreEnforced() {
        let masked = Self.key
        let cases: [([UInt8], WebSocketFrameDecoder.Role, WebSocketProtocolError)] = [
            (
                Self.frame(.text, [0x61], mask: masked, reserved: 0x4), .server,
                .protocolError("RSV bits set without a negotiated extension")
            ),
            (
                Self.frame(.text, [0x61], mask: masked, reserved: 0x1), .server,
                .protocolError("RSV bits set without a negotiated extension")
            ),
            ([0x83, 0x80] + masked, .server, .protocolError("reserved opcode 3")),
            ([0x8B, 0x80] + masked, .server, .protocolError("reserved opcode 11")),
            (Self.frame(.text, [0x61]), .server, .protocolError("unmasked frame from a client")),
            (Self.frame(.text, [0x61], mask: masked), .client, .protocolError("masked frame from a server")),
            (Self.frame(.ping, [1, 2], fin: false, mask: masked), .server, .protocolError("fragmented control frame")),
            (
                [0x89, 0xFE, 0x00, 0x7E] + masked + [UInt8](repeating: 0, count: 126), .server,
                .protocolError("control frame over 125 bytes")
            ),
            (
                [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1] + masked, .server,
                .protocolError("64-bit length with the most significant bit set")
            ),
        ]
        for (bytes, role, error) in cases {
            Self.expectDecodes(bytes, role: role, to: [], error: error)
        }
        Self.expectDecodes(
            Self.frame(.binary, [UInt8](repeating: 1, count: 101), mask: masked), role: .server, to: [],
            error: .messageTooBig(limit: 100), maxSize: 100)
        #expect(WebSocketProtocolError.protocolError("x").closeCode == 1002)
        #expect(WebSocketProtocolError.invalidUTF8.closeCode == 1007)
        #expect(WebSocketProtocolError.messageTooBig(limit: 1).closeCode == 1009)
    }

    // MARK: Message assembly

    @Test func controlFramesInsideAFragmentedMessage() {
        let bytes =
            Self.frame(.text, Array("frag".utf8), fin: false, mask: Self.key) + Self.frame(.ping, [9], mask: Self.key)
            + Self.frame(.continuation, Array("men".utf8), fin: false, mask: Self.key)
            + Self.frame(.pong, [], mask: Self.key)
            + Self.frame(.continuation, Array("ted".utf8), mask: Self.key)
        Self.expectDecodes(bytes, role: .server, to: [.ping([9]), .pong([]), .text("fragmented")])
    }

    @Test func continuationRules() {
        Self.expectDecodes(
            Self.frame(.continuation, [1], mask: Self.key), role: .server, to: [],
            error: .protocolError("continuation frame without a message"))
        Self.expectDecodes(
            Self.frame(.text, [0x61], fin: false, mask: Self.key) + Self.frame(.binary, [1], mask: Self.key),
            role: .server, to: [],
            error: .protocolError("new data frame inside a fragmented message"))
    }

    @Test func messageSizeLimitCoversAllFragments() {
        let bytes =
            Self.frame(.binary, [UInt8](repeating: 1, count: 60), fin: false, mask: Self.key)
            + Self.frame(.continuation, [UInt8](repeating: 2, count: 60), mask: Self.key)
        Self.expectDecodes(bytes, role: .server, to: [], error: .messageTooBig(limit: 100), maxSize: 100)
    }

    @Test func invalidUTF8FailsAtTheFirstBadFragmentNotAtTheEnd() {
        let valid = Self.frame(.text, Array("κόσμε".utf8), fin: false, mask: Self.key)
        let invalid = Self.frame(.continuation, [0xED, 0xA0, 0x80], fin: false, mask: Self.key)
        let result = Self.decode(valid + invalid, role: .server, splits: [])
        #expect(result.error == .invalidUTF8, "no final fragment was sent; the error must come anyway")
        var decoder = WebSocketFrameDecoder(role: .server)
        var assembler = WebSocketMessageAssembler()
        decoder.append(
            Array(
                (valid + Self.frame(.continuation, [0x61, 0xFF, 0x62, 0x63], mask: Self.key)).prefix(valid.count + 8)))
        var failed = false
        do {
            while let part = try decoder.next() { _ = try assembler.consume(part) }
        } catch {
            failed = error == .invalidUTF8
        }
        #expect(failed, "the invalid byte fails the message before the rest of its frame arrives")
    }

    @Test func characterSplitAcrossFragmentsIsValid() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        let bytes =
            Self.frame(.text, [euro[0]], fin: false, mask: Self.key)
            + Self.frame(.continuation, Array(euro[1...]), mask: Self.key)
        Self.expectDecodes(bytes, role: .server, to: [.text("€")])
        Self.expectDecodes(
            Self.frame(.text, Array(euro[..<2]), mask: Self.key), role: .server, to: [], error: .invalidUTF8)
    }

    // MARK: Close frames

    @Test func closePayloads() {
        Self.expectDecodes(Self.frame(.close, [], mask: Self.key), role: .server, to: [.close(code: 1005, reason: "")])
        Self.expectDecodes(
            Self.frame(.close, WebSocketFrameEncoder.closePayload(code: 1000, reason: "bye"), mask: Self.key),
            role: .server,
            to: [.close(code: 1000, reason: "bye")])
        Self.expectDecodes(
            Self.frame(.close, [0x03], mask: Self.key), role: .server, to: [],
            error: .protocolError("close payload of one byte"))
        Self.expectDecodes(
            Self.frame(.close, [0x03, 0xE8, 0xFF], mask: Self.key), role: .server, to: [], error: .invalidUTF8)
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            Self.expectDecodes(
                Self.frame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)], mask: Self.key), role: .server, to: [],
                error: .protocolError("invalid close code \(code)"))
        }
        for code: UInt16 in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
        ] {
            #expect(WebSocketCloseCode.isValidOnTheWire(code), "\(code)")
        }
    }

    @Test func closeReasonIsCutOnACharacterBoundary() {
        let payload = WebSocketFrameEncoder.closePayload(code: 1000, reason: String(repeating: "é", count: 100))
        #expect(payload.count <= 125)
        #expect(payload.count == 2 + 122)
        #expect(try! WebSocketCloseCode.parse(payload).reason == String(repeating: "é", count: 61))
    }

    // MARK: UTF-8

    @Test(
        arguments: [
            [], Array("κόσμε".utf8), [0xF4, 0x8F, 0xBF, 0xBF], [0xEF, 0xBF, 0xBF], [0xED, 0x9F, 0xBF],
            [0xEE, 0x80, 0x80],
            [0xF0, 0x90, 0x80, 0x80], [0x7F], [0xC2, 0x80], [0xDF, 0xBF],
        ] as [[UInt8]])
    func validUTF8(bytes: [UInt8]) {
        var validator = UTF8Validator()
        let accepted = validator.feed(bytes)
        #expect(accepted && validator.isComplete)
    }

    @Test(
        arguments: [
            [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xF0, 0x80, 0x80, 0x80],
            [0xF0, 0x8F, 0xBF, 0xBF],
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xFE],
            [0x80],
            [0xBF], [0x61, 0x80], [0xC2, 0x41], [0xE2, 0x82, 0x41],
        ] as [[UInt8]])
    func invalidUTF8(bytes: [UInt8]) {
        var validator = UTF8Validator()
        let accepted = validator.feed(bytes)
        #expect(!accepted)
    }

    @Test func truncatedSequenceIsNotComplete() {
        var validator = UTF8Validator()
        let first = validator.feed([0xE2, 0x82])
        #expect(first && !validator.isComplete)
        let second = validator.feed([0xAC])
        #expect(second && validator.isComplete)
    }
}
