// libFuzzer target for the HTTP/1.1 decoders (Sources/Codecs/HTTP1), built by Tests/Fuzz/run.sh
// together with those sources into one module, so `package` declarations are visible.
//
// Input layout: byte 0 = configuration flags, byte 1 = seed, the rest = the byte stream.
//
//   byte 0  bit 0     role: 0 = HTTPRequestDecoder, 1 = HTTPResponseDecoder
//           bits 1-2  how the second run splits the stream: 0 byte by byte, 1 fixed stride,
//                     2 pseudo-random chunk sizes (with some empty appends), 3 around every CR/LF
//           bit 3     small limits (drawn from the seed) instead of the defaults
//           bit 4     response role: call peerDidClose() once all bytes are in
//           bit 5     the stream is the payload three times (exercises buffer compaction)
//           bits 6-7  response role: requests announced up front (0, 1, 3 or 8; mostly GET)
//   byte 1  seed of the generator for limits, split positions and announced methods
//
// Properties checked (a trap means a finding):
//   - feeding the stream whole and feeding it in chunks give the same parts (consecutive
//     `.body` parts coalesced, since chunking legitimately splits bodies) and the same error;
//   - the parts form `(head body* end)* [head body*]`, nothing follows an error, no empty body
//     part, body bytes never exceed Content-Length and equal it at `.end`, no body without one;
//   - every head agrees with its own header fields and the limits (framing per RFC 9112 section 6,
//     one Host in HTTP/1.1, token method and field names, start line and header counts within
//     the limits), and survives HTTPEncoder -> decoder unchanged.

// MARK: - Entry

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let config = FuzzConfig(flags: input[0], seed: input[1], payloadCount: size - 2)
    var stream = Array(input[2...])
    if config.repeatPayload { stream = stream + stream + stream }
    let chunks = config.splits(stream)

    if config.isResponse {
        let methods = config.announcedMethods()
        let whole = runResponse(chunks: [stream], config: config, methods: methods)
        let split = runResponse(chunks: chunks, config: config, methods: methods)
        compare(whole, split, config: config, stream: stream)
    } else {
        let whole = runRequest(chunks: [stream], config: config)
        let split = runRequest(chunks: chunks, config: config)
        compare(whole, split, config: config, stream: stream)
    }
    return 0
}

// MARK: - Configuration

/// SplitMix64: small, deterministic, good enough to spread split positions.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

struct FuzzConfig {
    let flags: UInt8
    let seed: UInt8
    let payloadCount: Int

    var isResponse: Bool { flags & 0x01 != 0 }
    var splitMode: Int { Int(flags >> 1) & 0x03 }
    var smallLimits: Bool { flags & 0x08 != 0 }
    var closeAtEnd: Bool { flags & 0x10 != 0 }
    var repeatPayload: Bool { flags & 0x20 != 0 }
    var announcementCount: Int { [0, 1, 3, 8][Int(flags >> 6)] }

    func generator(_ salt: UInt64) -> SplitMix {
        SplitMix(state: UInt64(seed) &* 0x1_0000_0001 ^ UInt64(payloadCount) << 8 ^ salt)
    }

    var limits: HTTPLimits {
        guard smallLimits else { return HTTPLimits() }
        var rng = generator(1)
        return HTTPLimits(
            maxStartLineBytes: rng.below(48), maxHeaderBytes: rng.below(160), maxHeaderCount: rng.below(6),
            maxChunkLineBytes: rng.below(24))
    }

    func announcedMethods() -> [HTTPMethod] {
        var rng = generator(2)
        return (0..<announcementCount).map { _ in
            switch rng.below(8) {
            case 0: .head
            case 1: .post
            default: .get
            }
        }
    }

    /// The chunks of the second run; never the same as one whole append unless the stream is tiny.
    func splits(_ stream: [UInt8]) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        switch splitMode {
        case 0:
            chunks = stream.map { [$0] }
        case 1:
            let stride = 1 + Int(seed % 17)
            var start = 0
            while start < stream.count {
                let end = min(start + stride, stream.count)
                chunks.append(Array(stream[start..<end]))
                start = end
            }
        case 2:
            var rng = generator(3)
            let maxChunk = 1 + rng.below(64)
            var start = 0
            while start < stream.count {
                if rng.below(16) == 0 { chunks.append([]) }
                let end = min(start + 1 + rng.below(maxChunk), stream.count)
                chunks.append(Array(stream[start..<end]))
                start = end
            }
        default:
            // Cut before and after every CR and LF: the line-boundary cases.
            var start = 0
            for (index, byte) in stream.enumerated() where byte == 0x0D || byte == 0x0A {
                if index > start { chunks.append(Array(stream[start..<index])) }
                chunks.append([byte])
                start = index + 1
            }
            if start < stream.count { chunks.append(Array(stream[start...])) }
        }
        return chunks
    }
}

// MARK: - Running

/// What one run produced.
struct Outcome<Part: Equatable>: Equatable {
    /// The parts, consecutive bodies merged.
    var parts: [Part] = []
    var error: HTTPParseError?
    /// Decoder state at the end of the input when there was no error (request role only).
    var bufferedByteCount: Int?
    var isIdle: Bool?
}

func runRequest(chunks: [[UInt8]], config: FuzzConfig) -> Outcome<HTTPRequestDecoder.Part> {
    let limits = config.limits
    var decoder = HTTPRequestDecoder(limits: limits)
    var checker = SequenceChecker(limits: limits)
    var outcome = Outcome<HTTPRequestDecoder.Part>()
    feeding: for chunk in chunks {
        decoder.append(chunk)
        while true {
            let part: HTTPRequestDecoder.Part?
            do {
                part = try decoder.next()
            } catch {
                checker.error(error)
                outcome.error = error
                break feeding
            }
            guard let part else { break }
            switch part {
            case .head(let head):
                checker.head(framing: head.framing)
                checkRequestHead(head, limits: limits)
                check(!decoder.isIdle, "decoder idle right after a head")
            case .body(let bytes):
                checker.body(bytes)
                append(body: bytes, to: &outcome.parts) {
                    if case .body(let b) = $0 { b } else { nil }
                } make: {
                    .body($0)
                }
                continue
            case .end(let trailers):
                checker.end(trailers: trailers)
                check(decoder.isIdle, "decoder not idle right after an end")
            }
            outcome.parts.append(part)
        }
    }
    if outcome.error == nil {
        outcome.bufferedByteCount = decoder.bufferedByteCount
        outcome.isIdle = decoder.isIdle
        check(decoder.bufferedByteCount >= 0, "negative bufferedByteCount")
    }
    return outcome
}

func runResponse(chunks: [[UInt8]], config: FuzzConfig, methods: [HTTPMethod]) -> Outcome<HTTPResponseDecoder.Part> {
    let limits = config.limits
    var decoder = HTTPResponseDecoder(limits: limits)
    for method in methods { decoder.expectResponse(to: method) }
    var pending = methods[...]  // mirrors the decoder's queue, to know which request a response answers
    var checker = SequenceChecker(limits: limits)
    var outcome = Outcome<HTTPResponseDecoder.Part>()
    var allChunks = chunks.map { Optional($0) }
    if config.closeAtEnd { allChunks.append(nil) }  // nil = peerDidClose()
    feeding: for chunk in allChunks {
        if let chunk { decoder.append(chunk) } else { decoder.peerDidClose() }
        while true {
            let part: HTTPResponseDecoder.Part?
            do {
                part = try decoder.next()
            } catch {
                checker.error(error)
                outcome.error = error
                break feeding
            }
            guard let part else { break }
            switch part {
            case .head(let head):
                let method = head.status >= 200 || head.status == 101 ? pending.first : nil
                if head.status >= 200, !pending.isEmpty { pending.removeFirst() }
                checker.head(framing: head.framing)
                checkResponseHead(head, method: method, limits: limits)
            case .body(let bytes):
                checker.body(bytes)
                append(body: bytes, to: &outcome.parts) {
                    if case .body(let b) = $0 { b } else { nil }
                } make: {
                    .body($0)
                }
                continue
            case .end(let trailers):
                checker.end(trailers: trailers)
            }
            outcome.parts.append(part)
        }
    }
    return outcome
}

/// Appends body bytes, merging with a preceding body part.
func append<Part>(
    body bytes: [UInt8], to parts: inout [Part], bodyOf: (Part) -> [UInt8]?, make: ([UInt8]) -> Part
) {
    if let last = parts.last, let previous = bodyOf(last) {
        parts[parts.count - 1] = make(previous + bytes)
    } else {
        parts.append(make(bytes))
    }
}

func compare<Part>(_ whole: Outcome<Part>, _ split: Outcome<Part>, config: FuzzConfig, stream: [UInt8]) {
    guard whole != split else { return }
    fatalError(
        """
        MISMATCH between whole and split feeding (flags \(config.flags), seed \(config.seed), \
        \(config.isResponse ? "response" : "request") role, split mode \(config.splitMode), limits \(config.limits))
          whole: \(whole)
          split: \(split)
          stream: \(escaped(stream))
        """)
}

// MARK: - Invariants

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("INVARIANT: \(message())") }
}

/// The shape of the part sequence and the body length rules, fed with the parts as they come.
struct SequenceChecker {
    let limits: HTTPLimits
    var inMessage = false
    var framing = HTTPBodyFraming.none
    var bodyBytes = 0
    var failed = false

    init(limits: HTTPLimits) { self.limits = limits }

    mutating func head(framing: HTTPBodyFraming) {
        check(!failed, "a part after an error")
        check(!inMessage, "a head before the previous message's end")
        inMessage = true
        self.framing = framing
        bodyBytes = 0
    }

    mutating func body(_ bytes: [UInt8]) {
        check(!failed, "a part after an error")
        check(inMessage, "a body part outside a message")
        check(!bytes.isEmpty, "an empty body part")
        bodyBytes += bytes.count
        switch framing {
        case .none: check(false, "a body part in a message without body")
        case .length(let length): check(bodyBytes <= length, "\(bodyBytes) body bytes exceed Content-Length \(length)")
        case .chunked, .untilClose: break
        }
    }

    mutating func end(trailers: HTTPHeaders) {
        check(!failed, "a part after an error")
        check(inMessage, "an end without a head (or a second end)")
        switch framing {
        case .none: check(bodyBytes == 0, "body bytes in a message without body")
        case .length(let length): check(bodyBytes == length, "end after \(bodyBytes) of \(length) body bytes")
        case .chunked, .untilClose: break
        }
        if framing != .chunked { check(trailers.count == 0, "trailers without chunked coding") }
        checkFields(trailers, limits: limits, what: "trailer")
        inMessage = false
    }

    mutating func error(_ error: HTTPParseError) {
        check(!failed, "a second error")
        failed = true
    }
}

let relaxedLimits = HTTPLimits(
    maxStartLineBytes: 1 << 20, maxHeaderBytes: 1 << 22, maxHeaderCount: 1 << 16, maxChunkLineBytes: 1 << 20)

/// Field names are tokens; values hold no CR, LF or other control byte and are trimmed; count and
/// byte limits hold (raw bytes are bounded from below: an invalid UTF-8 byte decodes to U+FFFD).
func checkFields(_ fields: HTTPHeaders, limits: HTTPLimits, what: String) {
    check(
        fields.count <= limits.maxHeaderCount, "\(fields.count) \(what) fields over the limit \(limits.maxHeaderCount)")
    var rawLowerBound = 0
    for field in fields {
        check(HTTPSyntax.isToken(field.name), "\(what) field name \(field.name.debugDescription) is not a token")
        check(
            field.value.utf8.allSatisfy(HTTPSyntax.isFieldValueByte),
            "control byte in \(what) value \(field.value.debugDescription)")
        let first = field.value.utf8.first, last = field.value.utf8.last
        check(
            first != 0x20 && first != 0x09 && last != 0x20 && last != 0x09,
            "untrimmed \(what) value \(field.value.debugDescription)")
        let replacements = field.value.unicodeScalars.filter { $0 == "\u{FFFD}" }.count
        rawLowerBound += field.name.utf8.count + 1 + field.value.utf8.count - 2 * replacements
    }
    if fields.count > 0 {
        // Each line must fit in what the previous lines (with their CRLFs) left of the limit.
        check(
            rawLowerBound + 2 * (fields.count - 1) <= limits.maxHeaderBytes,
            "\(what) section over \(limits.maxHeaderBytes) bytes")
    }
}

func isLengthOrCoding(_ name: String) -> Bool {
    HTTPHeaders.namesEqual(name, "Content-Length") || HTTPHeaders.namesEqual(name, "Transfer-Encoding")
}

func withoutFraming(_ headers: HTTPHeaders) -> [String] {
    headers.filter { !isLengthOrCoding($0.name) }.map { "\($0.name): \($0.value)" }
}

/// The single Content-Length value the header fields agree on, recomputed independently.
func agreedContentLength(_ headers: HTTPHeaders) -> Int? {
    var values: Set<Int> = []
    for value in headers[all: "Content-Length"] {
        for element in value.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = element.trimmingWhitespace()
            check(
                !trimmed.isEmpty && trimmed.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 },
                "accepted Content-Length \(value.debugDescription)")
            guard let number = Int(trimmed) else {
                fatalError("INVARIANT: accepted Content-Length \(value.debugDescription)")
            }
            values.insert(number)
        }
    }
    check(values.count <= 1, "accepted differing Content-Length values \(values)")
    return values.first
}

func checkRequestHead(_ head: HTTPRequestHead, limits: HTTPLimits) {
    check(head.version == .http1_1 || head.version == .http1_0, "version \(head.version)")
    check(HTTPSyntax.isToken(head.method.rawValue), "method \(head.method.rawValue.debugDescription) is not a token")
    check(
        !head.target.isEmpty && head.target.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F },
        "target \(head.target.debugDescription)")
    let startLine = head.method.rawValue.utf8.count + 1 + head.target.utf8.count + 1 + 8
    check(
        startLine <= limits.maxStartLineBytes,
        "request line of \(startLine) bytes over the limit \(limits.maxStartLineBytes)")
    checkFields(head.headers, limits: limits, what: "header")

    let hosts = head.headers[all: "Host"].count
    check(hosts == 1 || (head.version == .http1_0 && hosts == 0), "\(hosts) Host fields in \(head.version)")
    let codings = head.headers.tokens("Transfer-Encoding")
    if head.headers.contains("Transfer-Encoding") {
        check(head.version == .http1_1, "Transfer-Encoding accepted in HTTP/1.0")
        check(!head.headers.contains("Content-Length"), "Transfer-Encoding and Content-Length accepted together")
        check(codings == ["chunked"], "Transfer-Encoding \(codings) accepted")
        check(head.framing == .chunked, "framing \(head.framing) with Transfer-Encoding \(codings)")
    } else if let length = agreedContentLength(head.headers) {
        check(
            head.framing == (length == 0 ? .none : .length(length)),
            "framing \(head.framing) with Content-Length \(length)")
    } else {
        check(head.framing == .none, "framing \(head.framing) without Content-Length or Transfer-Encoding")
    }

    // Encoder round trip: what we would forward must decode to the same head.
    var bytes: [UInt8] = []
    HTTPEncoder.encode(head, into: &bytes)
    var decoder = HTTPRequestDecoder(limits: relaxedLimits)
    decoder.append(bytes)
    let again: HTTPRequestDecoder.Part?
    do { again = try decoder.next() } catch {
        fatalError("ROUNDTRIP: re-encoded request head fails with \(error): \(escaped(bytes))")
    }
    guard case .head(let second) = again else {
        fatalError("ROUNDTRIP: re-encoded request head incomplete: \(escaped(bytes))")
    }
    check(
        second.method == head.method && second.target == head.target && second.version == head.version
            && second.framing == head.framing && withoutFraming(second.headers) == withoutFraming(head.headers),
        "ROUNDTRIP: \(head) re-encoded as \(escaped(bytes)) decodes as \(second)")
}

func checkResponseHead(_ head: HTTPResponseHead, method: HTTPMethod?, limits: HTTPLimits) {
    check(head.version == .http1_1 || head.version == .http1_0, "version \(head.version)")
    check((100...999).contains(head.status), "status \(head.status)")
    let reasonReplacements = head.reason.unicodeScalars.filter { $0 == "\u{FFFD}" }.count
    let statusLine = 12 + (head.reason.isEmpty ? 0 : 1 + head.reason.utf8.count - 2 * reasonReplacements)
    check(
        statusLine <= limits.maxStartLineBytes,
        "status line of at least \(statusLine) bytes over the limit \(limits.maxStartLineBytes)")
    check(
        head.reason.utf8.allSatisfy(HTTPSyntax.isFieldValueByte),
        "control byte in reason \(head.reason.debugDescription)")
    checkFields(head.headers, limits: limits, what: "header")

    let codings = head.headers.tokens("Transfer-Encoding")
    if head.status < 200 || head.status == 204 || head.status == 304 || method == .head {
        check(head.framing == .none, "framing \(head.framing) for status \(head.status) to \(method?.rawValue ?? "-")")
    } else if !codings.isEmpty {
        check(!head.headers.contains("Content-Length"), "Transfer-Encoding and Content-Length accepted together")
        check(
            head.framing == (codings.last == "chunked" ? .chunked : .untilClose),
            "framing \(head.framing) with Transfer-Encoding \(codings)")
    } else if let length = agreedContentLength(head.headers) {
        check(
            head.framing == (length == 0 ? .none : .length(length)),
            "framing \(head.framing) with Content-Length \(length)")
    } else {
        check(head.framing == .untilClose, "framing \(head.framing) without Content-Length or Transfer-Encoding")
    }

    var bytes: [UInt8] = []
    HTTPEncoder.encode(head, date: nil, into: &bytes)
    var decoder = HTTPResponseDecoder(limits: relaxedLimits)
    if let method { decoder.expectResponse(to: method) }
    decoder.append(bytes)
    let again: HTTPResponseDecoder.Part?
    do { again = try decoder.next() } catch {
        fatalError("ROUNDTRIP: re-encoded response head fails with \(error): \(escaped(bytes))")
    }
    guard case .head(let second) = again else {
        fatalError("ROUNDTRIP: re-encoded response head incomplete: \(escaped(bytes))")
    }
    check(
        second.version == head.version && second.status == head.status && second.reason == head.reason
            && second.framing == head.framing && withoutFraming(second.headers) == withoutFraming(head.headers),
        "ROUNDTRIP: \(head) re-encoded as \(escaped(bytes)) decodes as \(second)")
}

/// C-style escaped bytes, for reports.
func escaped(_ bytes: [UInt8]) -> String {
    var text = "\""
    for byte in bytes {
        switch byte {
        case 0x0D: text += "\\r"
        case 0x0A: text += "\\n"
        case 0x09: text += "\\t"
        case 0x22: text += "\\\""
        case 0x5C: text += "\\\\"
        case 0x20..<0x7F: text.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16)
            text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return text + "\""
}
