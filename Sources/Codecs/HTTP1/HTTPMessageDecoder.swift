/// The incremental HTTP/1.1 parser both roles share (RFC 9112): start line, header fields,
/// and Content-Length or chunked bodies with extensions and trailers.
///
/// Bytes are appended as they arrive; `next()` returns the next complete part or `nil` when more
/// bytes are needed, never consuming half a line. Lines are checked one by one as they complete,
/// so a limit or a syntax error is reported as soon as it can be seen, and feeding the same bytes
/// whole, byte by byte or split anywhere gives the same parts. The role-specific bits (the start
/// line and the framing rules) live in `HTTPRequestDecoder` and `HTTPResponseDecoder`.
struct HTTPMessageDecoder {
    enum Part {
        /// The start line (split at its first two spaces) and the header fields.
        case head(startLine: ArraySlice<UInt8>, headers: HTTPHeaders)
        case body([UInt8])
        case end(trailers: HTTPHeaders)
    }

    private enum State {
        case startLine
        case headers(startLine: ArraySlice<UInt8>, headers: HTTPHeaders, bytes: Int)
        /// The head was returned; waiting for the role to decide the framing.
        case awaitingFraming
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(headers: HTTPHeaders, bytes: Int)
        case untilClose
        case upgraded
        /// An error was reported; every later call reports it again.
        case failed(HTTPParseError)
    }

    let limits: HTTPLimits
    let isRequest: Bool
    private var state = State.startLine
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the next LF resumes, so byte-by-byte feeding stays linear.
    private var scanIndex = 0
    private var peerClosed = false

    init(limits: HTTPLimits, isRequest: Bool) {
        self.limits = limits
        self.isRequest = isRequest
    }

    /// Bytes received but not yet returned as parts.
    var bufferedByteCount: Int { buffer.count - readIndex }

    /// True between messages (nothing of a next message parsed yet).
    var isIdle: Bool {
        if case .startLine = state { return true }
        return false
    }

    mutating func append(_ bytes: [UInt8]) {
        if readIndex == buffer.count {
            buffer = bytes
            readIndex = 0
            scanIndex = 0
            return
        }
        if readIndex > 4096 && readIndex * 2 > buffer.count {
            buffer.removeFirst(readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Marks the end of input (the peer closed): ends an until-close body.
    mutating func peerDidClose() {
        peerClosed = true
    }

    /// Decides the framing of the message whose head was just returned.
    mutating func setFraming(_ framing: HTTPBodyFraming) {
        guard case .awaitingFraming = state else { preconditionFailure("Internal inconsistency: framing set twice") }
        switch framing {
        case .none: state = .fixedBody(remaining: 0)
        case .length(let count): state = .fixedBody(remaining: count)
        case .chunked: state = .chunkSize
        case .untilClose: state = .untilClose
        }
    }

    /// Stops parsing (after a protocol upgrade) and returns the bytes that follow the head.
    mutating func takeRemainingBytes() -> [UInt8] {
        state = .upgraded
        let rest = Array(buffer[readIndex...])
        buffer = []
        readIndex = 0
        scanIndex = 0
        return rest
    }

    /// Records an error found by the role (start line, framing): the decoder stays failed.
    mutating func fail(_ error: HTTPParseError) {
        state = .failed(error)
    }

    mutating func next() throws(HTTPParseError) -> Part? {
        do {
            return try nextPart()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func nextPart() throws(HTTPParseError) -> Part? {
        while true {
            switch state {
            case .startLine:
                guard let line = try nextLine(limit: limits.maxStartLineBytes, tooLong: startLineTooLong) else {
                    return nil
                }
                if line.isEmpty { continue }
                if line.first == 0x20 || line.first == 0x09 {
                    throw isRequest
                        ? .badRequest("whitespace before the request line")
                        : .badResponse("whitespace before the status line")
                }
                state = .headers(startLine: line, headers: HTTPHeaders(), bytes: 0)
            case .headers(let startLine, var headers, let bytes):
                // Each field line costs its bytes plus its CRLF.
                let remaining = limits.maxHeaderBytes - bytes - 2
                guard let line = try nextLine(limit: remaining, tooLong: .headersTooLarge) else { return nil }
                // The state lets go of the fields first, so adding one does not copy them all.
                state = .awaitingFraming
                if line.isEmpty {
                    return .head(startLine: startLine, headers: headers)
                }
                try Self.appendField(line, to: &headers, limits: limits, isRequest: isRequest)
                state = .headers(startLine: startLine, headers: headers, bytes: bytes + line.count + 2)
            case .awaitingFraming:
                preconditionFailure("Internal inconsistency: next() before setFraming()")
            case .fixedBody(let remaining):
                if remaining == 0 {
                    state = .startLine
                    return .end(trailers: HTTPHeaders())
                }
                guard readIndex < buffer.count else { return nil }
                let count = min(remaining, buffer.count - readIndex)
                let chunk = takeBytes(count)
                state = .fixedBody(remaining: remaining - count)
                return .body(chunk)
            case .chunkSize:
                guard
                    let line = try nextLine(
                        limit: limits.maxChunkLineBytes, tooLong: .badRequest("chunk size line too long"))
                else {
                    return nil
                }
                let size = try ChunkLine.parseSize(Array(line))
                state = size == 0 ? .trailers(headers: HTTPHeaders(), bytes: 0) : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard readIndex < buffer.count else { return nil }
                let count = min(remaining, buffer.count - readIndex)
                let chunk = takeBytes(count)
                state = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
                return .body(chunk)
            case .chunkDataEnd:
                guard buffer.count - readIndex >= 2 else {
                    if readIndex < buffer.count && buffer[readIndex] != 0x0D {
                        throw .badRequest("chunk data not followed by CRLF")
                    }
                    return nil
                }
                guard buffer[readIndex] == 0x0D && buffer[readIndex + 1] == 0x0A else {
                    throw .badRequest("chunk data not followed by CRLF")
                }
                readIndex += 2
                scanIndex = readIndex
                state = .chunkSize
            case .trailers(var trailers, let bytes):
                let remaining = limits.maxHeaderBytes - bytes - 2
                guard let line = try nextLine(limit: remaining, tooLong: .headersTooLarge) else { return nil }
                state = .startLine
                if line.isEmpty {
                    return .end(trailers: trailers)
                }
                try Self.appendField(line, to: &trailers, limits: limits, isRequest: isRequest)
                state = .trailers(headers: trailers, bytes: bytes + line.count + 2)
            case .untilClose:
                if readIndex < buffer.count {
                    return .body(takeBytes(buffer.count - readIndex))
                }
                if peerClosed {
                    state = .startLine
                    return .end(trailers: HTTPHeaders())
                }
                return nil
            case .upgraded:
                return nil
            case .failed(let error):
                throw error
            }
        }
    }

    private var startLineTooLong: HTTPParseError {
        isRequest ? .uriTooLong : .badResponse("status line too long")
    }

    private mutating func takeBytes(_ count: Int) -> [UInt8] {
        let chunk: [UInt8]
        if readIndex == 0 && count == buffer.count {
            chunk = buffer
            buffer = []
        } else {
            chunk = Array(buffer[readIndex..<(readIndex + count)])
            readIndex += count
        }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        }
        scanIndex = readIndex
        return chunk
    }

    /// The next CRLF-terminated line without its CRLF, or nil when it is not complete yet.
    /// A line longer than `limit` (a negative limit allows only an empty line), a bare LF or a
    /// bare CR is an error. Both are decided from the bytes before the LF alone, by the same rule whether
    /// the line arrived whole or in pieces, so any split of the input gives the same error.
    /// The line is a slice of the buffer, read before the next `append` (which compacts it).
    private mutating func nextLine(limit: Int, tooLong: HTTPParseError) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        let limit = max(limit, 0)
        var index = max(scanIndex, readIndex)
        let end = buffer.count
        // A CR may only end a line: one followed by anything but LF fails at once rather than
        // waiting for an LF that may never come.
        while index < end && buffer[index] != 0x0A {
            if buffer[index] == 0x0D && index + 1 < end && buffer[index + 1] != 0x0A {
                if index - readIndex > limit { throw tooLong }
                throw isRequest ? .badRequest("bare CR where CRLF is required") : .badResponse("bare CR")
            }
            index += 1
        }
        // The bytes before the LF (or all of them, while the LF has not arrived). One byte over
        // the limit is allowed only when it is the CR of the CRLF.
        let content = index - readIndex
        if content > limit + 1 || (content == limit + 1 && buffer[index - 1] != 0x0D) {
            throw tooLong
        }
        guard index < end else {
            // A CR at the end is looked at again with the byte that follows it.
            scanIndex = index > readIndex && buffer[index - 1] == 0x0D ? index - 1 : index
            return nil
        }
        guard content > 0 && buffer[index - 1] == 0x0D else {
            throw isRequest ? .badRequest("bare LF where CRLF is required") : .badResponse("bare LF")
        }
        let line = buffer[readIndex..<(index - 1)]
        readIndex = index + 1
        scanIndex = readIndex
        return line
    }

    /// Parses `name: value` (RFC 9110 section 5.1, RFC 9112 section 5) into `headers`.
    private static func appendField(
        _ line: ArraySlice<UInt8>, to headers: inout HTTPHeaders, limits: HTTPLimits, isRequest: Bool
    ) throws(HTTPParseError) {
        let fail: (String) -> HTTPParseError = { isRequest ? .badRequest($0) : .badResponse($0) }
        if line.first == 0x20 || line.first == 0x09 {
            throw fail("obsolete line folding")
        }
        guard headers.count < limits.maxHeaderCount else { throw .headersTooLarge }
        let first = line.startIndex
        guard let colon = line.firstIndex(of: 0x3A) else { throw fail("header field without a colon") }
        guard colon > first else { throw fail("empty header field name") }
        for index in first..<colon where !HTTPSyntax.isTokenByte(line[index]) {
            throw line[index] == 0x20 || line[index] == 0x09
                ? fail("whitespace before the colon of a header field")
                : fail("invalid character in a header field name")
        }
        var start = colon + 1
        var end = line.endIndex
        while start < end && (line[start] == 0x20 || line[start] == 0x09) { start += 1 }
        while end > start && (line[end - 1] == 0x20 || line[end - 1] == 0x09) { end -= 1 }
        for index in start..<end where !HTTPSyntax.isFieldValueByte(line[index]) {
            throw line[index] == 0x0D
                ? fail("bare CR in a header field") : fail("control character in a header field value")
        }
        headers.add(
            name: String(decoding: line[first..<colon], as: UTF8.self),
            value: String(decoding: line[start..<end], as: UTF8.self))
    }
}
