/// A streaming parser of `multipart/form-data` bodies (RFC 7578 over RFC 2046's multipart
/// syntax): bytes go in as they arrive, parts come out as a head followed by body chunks, so a
/// file part of any size passes through without being held in memory.
///
/// Feed bytes with `append(_:)`, then call `next()` until it returns nil (more bytes needed);
/// call `finish()` when the input ends, which throws if the closing delimiter never came. Body
/// bytes are released as soon as they cannot be the start of a delimiter, so at most the
/// delimiter's length minus one is held back. Pure: no I/O.
package struct MultipartParser: Sendable {
    /// What the parser found next.
    package enum Event: Sendable, Equatable {
        /// A part begins; its body follows as `body` events.
        case partHead(MultipartPartHead)
        /// Bytes of the current part's body, in order.
        case body([UInt8])
        /// The current part ended.
        case partEnd
        /// The closing delimiter: the body is complete (anything after it is ignored).
        case finished
    }

    /// The parser's limits.
    package struct Configuration: Sendable {
        /// The largest header block of one part.
        package var maxHeaderBytes = 16 * 1024
        /// The most parts a body may have.
        package var maxParts = 64
        /// The most preamble bytes skipped before the first delimiter.
        package var maxPreambleBytes = 16 * 1024

        package init() {}
    }

    private enum State {
        case preamble(skipped: Int)
        case afterDelimiter
        /// `scanned`: header bytes already searched for the blank line (headers that trickle in
        /// a few bytes at a time are not searched again from their start).
        case headers(scanned: Int)
        case body
        case finished
    }

    private let dashBoundary: [UInt8]
    /// CRLF + `--` + boundary: what ends a body.
    private let delimiter: [UInt8]
    private let configuration: Configuration
    private var buffer: [UInt8] = []
    private var position = 0
    private var state = State.preamble(skipped: 0)
    private var parts = 0

    /// - Parameter boundary: the `boundary` parameter of the body's `Content-Type`.
    package init(boundary: String, configuration: Configuration = Configuration()) {
        dashBoundary = Array("--\(boundary)".utf8)
        delimiter = Array("\r\n--\(boundary)".utf8)
        self.configuration = configuration
    }

    /// Adds received bytes.
    package mutating func append(_ bytes: [UInt8]) {
        if position > 0 && position >= buffer.count / 2 {
            buffer.removeFirst(position)
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Whether the closing delimiter has been seen.
    package var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// Checks that the input may end here.
    package func finish() throws(MultipartError) {
        guard isFinished else { throw .missingFinalBoundary }
    }

    /// The next event, or nil when more bytes are needed.
    package mutating func next() throws(MultipartError) -> Event? {
        switch state {
        case .preamble(let skipped):
            return try nextInPreamble(skipped: skipped)
        case .afterDelimiter:
            return try nextAfterDelimiter()
        case .headers(let scanned):
            return try nextHead(scanned: scanned)
        case .body:
            return nextInBody()
        case .finished:
            position = buffer.count
            return nil
        }
    }

    private var available: Int { buffer.count - position }

    private mutating func nextInPreamble(skipped: Int) throws(MultipartError) -> Event? {
        // The first delimiter may open the body without a CRLF before it.
        if skipped == 0 && available >= dashBoundary.count && buffer.starts(with: dashBoundary, at: position) {
            position += dashBoundary.count
            state = .afterDelimiter
            return try next()
        }
        if skipped == 0 && available < dashBoundary.count && dashBoundary.starts(with: buffer[position...]) {
            return nil
        }
        if let match = find(delimiter) {
            let total = skipped + (match - position)
            guard total <= configuration.maxPreambleBytes else { throw .preambleTooLong }
            position = match + delimiter.count
            state = .afterDelimiter
            return try next()
        }
        let keep = min(available, delimiter.count - 1)
        let dropped = available - keep
        guard skipped + dropped <= configuration.maxPreambleBytes else { throw .preambleTooLong }
        position += dropped
        state = .preamble(skipped: skipped + max(dropped, 1))
        return nil
    }

    /// After a delimiter: `--` closes the body; otherwise optional whitespace, then CRLF.
    private mutating func nextAfterDelimiter() throws(MultipartError) -> Event? {
        guard available >= 2 else { return nil }
        if buffer[position] == UInt8(ascii: "-") && buffer[position + 1] == UInt8(ascii: "-") {
            state = .finished
            position = buffer.count
            return .finished
        }
        var index = position
        while index < buffer.count && (buffer[index] == UInt8(ascii: " ") || buffer[index] == UInt8(ascii: "\t")) {
            index += 1
            guard index - position <= 64 else { throw .malformedDelimiter }
        }
        guard index + 2 <= buffer.count else { return nil }
        guard buffer[index] == UInt8(ascii: "\r") && buffer[index + 1] == UInt8(ascii: "\n") else {
            throw .malformedDelimiter
        }
        position = index + 2
        parts += 1
        guard parts <= configuration.maxParts else { throw .tooManyParts }
        state = .headers(scanned: 0)
        return try next()
    }

    private mutating func nextHead(scanned: Int) throws(MultipartError) -> Event? {
        // A part without headers starts its body right after the delimiter line's CRLF.
        if available >= 2 && buffer[position] == UInt8(ascii: "\r") && buffer[position + 1] == UInt8(ascii: "\n") {
            position += 2
            state = .body
            return .partHead(MultipartPartHead(headers: HTTPHeaders()))
        }
        guard let end = find(Self.headerEnd, from: position + max(0, scanned - (Self.headerEnd.count - 1))) else {
            guard available <= configuration.maxHeaderBytes else { throw .headersTooLarge }
            state = .headers(scanned: available)
            return nil
        }
        guard end - position <= configuration.maxHeaderBytes else { throw .headersTooLarge }
        let head = try MultipartPartHead(parsing: buffer[position..<end])
        position = end + Self.headerEnd.count
        state = .body
        return .partHead(head)
    }

    private mutating func nextInBody() -> Event? {
        if let match = find(delimiter) {
            if match > position {
                let chunk = Array(buffer[position..<match])
                position = match
                return .body(chunk)
            }
            position = match + delimiter.count
            state = .afterDelimiter
            return .partEnd
        }
        let keep = min(available, delimiter.count - 1)
        guard available > keep else { return nil }
        let end = buffer.count - keep
        let chunk = Array(buffer[position..<end])
        position = end
        return .body(chunk)
    }

    /// The index of the first occurrence of `pattern` at or after `start` (default: `position`),
    /// or nil.
    private func find(_ pattern: [UInt8], from start: Int? = nil) -> Int? {
        guard let first = pattern.first, available >= pattern.count else { return nil }
        var index = start ?? position
        let last = buffer.count - pattern.count
        while index <= last {
            if buffer[index] == first && buffer.starts(with: pattern, at: index) { return index }
            index += 1
        }
        return nil
    }

    private static let headerEnd: [UInt8] = Array("\r\n\r\n".utf8)
}

extension Array where Element == UInt8 {
    fileprivate func starts(with pattern: [UInt8], at index: Int) -> Bool {
        guard index + pattern.count <= count else { return false }
        for offset in 0..<pattern.count where self[index + offset] != pattern[offset] { return false }
        return true
    }
}

/// Why a multipart body was refused.
package enum MultipartError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingFinalBoundary
    case malformedDelimiter
    case malformedHeader
    case headersTooLarge
    case tooManyParts
    case preambleTooLong
    case missingBoundary

    package var description: String {
        switch self {
        case .missingFinalBoundary: "the multipart body ended before its closing boundary"
        case .malformedDelimiter: "a multipart boundary line is malformed"
        case .malformedHeader: "a multipart part header is malformed"
        case .headersTooLarge: "a multipart part's headers are too large"
        case .tooManyParts: "the multipart body has too many parts"
        case .preambleTooLong: "no multipart boundary found at the start of the body"
        case .missingBoundary: "the Content-Type has no multipart boundary"
        }
    }
}
