/// Decodes requests from a byte stream (the server role), incrementally and strictly.
///
/// Beyond syntax it decides each request's framing by RFC 9112 section 6: Transfer-Encoding with
/// Content-Length, differing Content-Length values, a signed or non-numeric length, chunked not
/// last (or twice), or Transfer-Encoding in HTTP/1.0 are rejected with 400 as smuggling risks;
/// another coding before a final chunked (`gzip, chunked`) is 501; a well-formed version other
/// than 1.0 and 1.1 is 505; an HTTP/1.1 request needs exactly one Host, and a Host must be a valid
/// `uri-host [":" port]`. An absolute-form target is accepted and handed on in origin form.
package struct HTTPRequestDecoder {
    /// What `next()` returns.
    package enum Part: Sendable, Equatable {
        case head(HTTPRequestHead)
        case body([UInt8])
        case end(trailers: HTTPHeaders)
    }

    private var core: HTTPMessageDecoder

    package init(limits: HTTPLimits = HTTPLimits()) {
        core = HTTPMessageDecoder(limits: limits, isRequest: true)
    }

    /// Adds received bytes.
    package mutating func append(_ bytes: [UInt8]) { core.append(bytes) }

    /// Bytes received and not yet returned.
    package var bufferedByteCount: Int { core.bufferedByteCount }

    /// True when no part of a next request has been parsed.
    package var isIdle: Bool { core.isIdle }

    /// Stops decoding (after an upgrade) and returns the bytes after the last head.
    package mutating func takeRemainingBytes() -> [UInt8] { core.takeRemainingBytes() }

    /// The next part, or nil when more bytes are needed.
    package mutating func next() throws(HTTPParseError) -> Part? {
        guard let part = try core.next() else { return nil }
        switch part {
        case .head(let startLine, let headers):
            do {
                var head = try Self.parseRequestLine(startLine)
                head.headers = headers
                try Self.resolveAuthority(of: &head)
                head.framing = try Self.framing(of: head)
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

    /// `method SP request-target SP HTTP-version`.
    static func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequestHead {
        guard let firstSpace = line.firstIndex(of: 0x20) else { throw .badRequest("invalid request line") }
        guard let secondSpace = line[(firstSpace + 1)...].firstIndex(of: 0x20) else {
            throw .badRequest("invalid request line")
        }
        let method = line[..<firstSpace]
        let target = line[(firstSpace + 1)..<secondSpace]
        let version = line[(secondSpace + 1)...]
        guard !method.isEmpty, method.allSatisfy(HTTPSyntax.isTokenByte) else { throw .badRequest("invalid method") }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("invalid request target")
        }
        return HTTPRequestHead(
            method: HTTPMethod(String(decoding: method, as: UTF8.self)),
            target: String(decoding: target, as: UTF8.self),
            version: try HTTPVersionParser.parse(version, isRequest: true))
    }

    /// Checks the `Host` value and turns an absolute-form target into origin form, its authority
    /// replacing `Host` (RFC 9112 section 3.2), so routes see one form.
    static func resolveAuthority(of head: inout HTTPRequestHead) throws(HTTPParseError) {
        // One pass over the fields: how many are Host, and is each a valid host[:port].
        var hosts = 0
        for field in head.headers.fields where HTTPHeaders.namesEqual(field.name, "Host") {
            hosts += 1
            guard RequestTarget.isHostValue(field.value.utf8) else { throw .badRequest("invalid Host header") }
        }
        if head.version == .http1_1 && hosts != 1 {
            throw .badRequest(hosts == 0 ? "missing Host header" : "more than one Host header")
        }
        if head.version == .http1_0 && hosts > 1 { throw .badRequest("more than one Host header") }
        guard let (target, authority) = try RequestTarget.absoluteForm(head.target) else { return }
        head.target = target
        head.headers.replaceOrAdd(name: "Host", value: authority)
    }

    static func framing(of head: HTTPRequestHead) throws(HTTPParseError) -> HTTPBodyFraming {
        if head.headers.contains("Transfer-Encoding") {
            guard head.version == .http1_1 else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            guard !head.headers.contains("Content-Length") else {
                throw .badRequest("both Transfer-Encoding and Content-Length")
            }
            let codings = head.headers.tokens("Transfer-Encoding")
            for coding in codings {
                let name = coding.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
                guard HTTPSyntax.isToken(name.trimmingWhitespace()) else {
                    throw .badRequest("invalid Transfer-Encoding")
                }
            }
            guard codings.last == "chunked" else { throw .badRequest("chunked is not the final transfer coding") }
            guard codings.count(where: { $0 == "chunked" }) == 1 else {
                throw .badRequest("chunked applied more than once")
            }
            if let other = codings.first(where: { $0 != "chunked" }) {
                throw .unsupportedTransferCoding(other)
            }
            return .chunked
        }
        guard head.headers.contains("Content-Length") else { return .none }
        guard let length = try ContentLength.parse(head.headers, isRequest: true) else { return .none }
        return length == 0 ? .none : .length(length)
    }
}

/// Parses `HTTP/x.y`.
enum HTTPVersionParser {
    static func parse(_ bytes: ArraySlice<UInt8>, isRequest: Bool) throws(HTTPParseError) -> HTTPVersion {
        let start = bytes.startIndex
        guard bytes.count == 8, bytes[start..<(start + 5)].elementsEqual("HTTP/".utf8), bytes[start + 6] == 0x2E,
            (0x30...0x39).contains(bytes[start + 5]), (0x30...0x39).contains(bytes[start + 7])
        else {
            throw isRequest ? .badRequest("invalid HTTP version") : .badResponse("invalid HTTP version")
        }
        let version = HTTPVersion(major: Int(bytes[start + 5] - 0x30), minor: Int(bytes[start + 7] - 0x30))
        guard version == .http1_1 || version == .http1_0 else {
            throw .unsupportedVersion(String(decoding: bytes, as: UTF8.self))
        }
        return version
    }
}

/// The Content-Length rules of RFC 9112 section 6.3: digits only; several values (as repeated
/// fields or a list) are accepted only when all are the same.
enum ContentLength {
    static func parse(_ headers: HTTPHeaders, isRequest: Bool) throws(HTTPParseError) -> Int? {
        let fail: (String) -> HTTPParseError = { isRequest ? .badRequest($0) : .badResponse($0) }
        var result: Int?
        for value in headers[all: "Content-Length"] {
            for element in value.split(separator: ",", omittingEmptySubsequences: false) {
                let digits = element.trimmingWhitespace()
                guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    throw fail("invalid Content-Length")
                }
                guard digits.utf8.count <= 15, let length = Int(digits) else { throw fail("Content-Length too large") }
                if let result, result != length { throw fail("differing Content-Length values") }
                result = length
            }
        }
        return result
    }
}
