/// Decodes responses from a byte stream (the client role, used to talk to ComfyUI).
///
/// The framing of a response depends on the request it answers, so each request sent must be
/// announced with `expectResponse(to:)` in order; responses to HEAD, and 1xx, 204 and 304, have no
/// body. A response without Content-Length or chunked coding runs until the peer closes, which
/// the owner reports with `peerDidClose()`.
package struct HTTPResponseDecoder {
    /// What `next()` returns.
    package enum Part: Sendable, Equatable {
        case head(HTTPResponseHead)
        case body([UInt8])
        case end(trailers: HTTPHeaders)
    }

    private var core: HTTPMessageDecoder
    private var requestMethods: [HTTPMethod] = []

    package init(limits: HTTPLimits = HTTPLimits()) {
        core = HTTPMessageDecoder(limits: limits, isRequest: false)
    }

    /// Announces that a request with `method` was sent; its response comes in this order.
    package mutating func expectResponse(to method: HTTPMethod) { requestMethods.append(method) }

    package mutating func append(_ bytes: [UInt8]) { core.append(bytes) }

    /// Bytes received and not decoded yet (after a response's end: bytes nothing asked for).
    package var bufferedByteCount: Int { core.bufferedByteCount }

    /// The peer closed: ends a body delimited by the close.
    package mutating func peerDidClose() { core.peerDidClose() }

    /// Stops decoding (after `101 Switching Protocols`) and returns the bytes after the head.
    package mutating func takeRemainingBytes() -> [UInt8] { core.takeRemainingBytes() }

    package mutating func next() throws(HTTPParseError) -> Part? {
        guard let part = try core.next() else { return nil }
        switch part {
        case .head(let startLine, let headers):
            do {
                var head = try Self.parseStatusLine(Array(startLine))
                head.headers = headers
                let method = head.status >= 200 || head.status == 101 ? requestMethods.first : nil
                if head.status >= 200, !requestMethods.isEmpty { requestMethods.removeFirst() }
                head.framing = try Self.framing(of: head, method: method)
                core.setFraming(head.framing)
                return .head(head)
            } catch {
                core.fail(error)
                throw error
            }
        case .body(let bytes):
            return .body(bytes)
        case .end(let trailers):
            return .end(trailers: trailers)
        }
    }

    /// `HTTP-version SP 3DIGIT SP [reason-phrase]` (a missing final space is tolerated).
    static func parseStatusLine(_ line: [UInt8]) throws(HTTPParseError) -> HTTPResponseHead {
        guard line.count >= 12, line[8] == 0x20 else { throw .badResponse("invalid status line") }
        let version = try HTTPVersionParser.parse(line[0..<8], isRequest: false)
        let digits = line[9..<12]
        guard digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), line.count == 12 || line[12] == 0x20 else {
            throw .badResponse("invalid status code")
        }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard status >= 100 else { throw .badResponse("invalid status code") }
        let reasonBytes = line.count > 13 ? line[13...] : []
        guard reasonBytes.allSatisfy(HTTPSyntax.isFieldValueByte) else { throw .badResponse("invalid reason phrase") }
        return HTTPResponseHead(version: version, status: status, reason: String(decoding: reasonBytes, as: UTF8.self))
    }

    static func framing(of head: HTTPResponseHead, method: HTTPMethod?) throws(HTTPParseError) -> HTTPBodyFraming {
        if head.status < 200 || head.status == 204 || head.status == 304 || method == .head { return .none }
        let codings = head.headers.tokens("Transfer-Encoding")
        if !codings.isEmpty {
            guard !head.headers.contains("Content-Length") else {
                throw .badResponse("both Transfer-Encoding and Content-Length")
            }
            return codings.last == "chunked" ? .chunked : .untilClose
        }
        guard let length = try ContentLength.parse(head.headers, isRequest: false) else { return .untilClose }
        return length == 0 ? .none : .length(length)
    }
}
