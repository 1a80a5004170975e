import Codecs
import Testing

/// RFC 9112 request vectors: valid messages, malformed ones and request-smuggling attempts.
/// Each is fed whole, byte by byte and split at every index, and must decode the same way.
struct HTTPRequestDecoderVectorTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        let name: String
        let raw: [UInt8]
        let expected: Expected
        var limits = HTTPLimits()

        var testDescription: String { name }
    }

    enum Expected: Sendable {
        case parts([HTTPRequestDecoder.Part])
        case status(Int)
    }

    typealias Part = HTTPRequestDecoder.Part

    static func head(
        _ method: String, _ target: String, _ headers: [(String, String)], version: HTTPVersion = .http1_1,
        framing: HTTPBodyFraming = .none
    ) -> Part {
        .head(
            HTTPRequestHead(
                method: HTTPMethod(method), target: target, version: version, headers: HTTPHeaders(headers),
                framing: framing))
    }

    static func body(_ text: String) -> Part { .body(Array(text.utf8)) }
    static let end = Part.end(trailers: HTTPHeaders())

    static func valid(_ name: String, _ raw: String, _ parts: [Part]) -> Vector {
        Vector(name: name, raw: Array(raw.utf8), expected: .parts(parts))
    }

    static func invalid(_ name: String, _ raw: String, _ status: Int, limits: HTTPLimits = HTTPLimits()) -> Vector {
        Vector(name: name, raw: Array(raw.utf8), expected: .status(status), limits: limits)
    }

    static func invalidBytes(_ name: String, _ raw: [UInt8], _ status: Int) -> Vector {
        Vector(name: name, raw: raw, expected: .status(status))
    }

    static let host = [("Host", "x")]

    static let validVectors: [Vector] = [
        valid("simple GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", [head("GET", "/", host), end]),
        valid(
            "GET with query", "GET /a/b?c=1&d=%20 HTTP/1.1\r\nHost: x\r\n\r\n",
            [head("GET", "/a/b?c=1&d=%20", host), end]),
        valid("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", [head("GET", "/", [], version: .http1_0), end]),
        valid(
            "POST with Content-Length", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            [head("POST", "/p", host + [("Content-Length", "5")], framing: .length(5)), body("hello"), end]),
        valid(
            "chunked body", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            [head("POST", "/", host + [("Transfer-Encoding", "chunked")], framing: .chunked), body("hello"), end]),
        valid(
            "chunk extensions",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value;flag\r\nhello\r\n0;last\r\n\r\n",
            [head("POST", "/", host + [("Transfer-Encoding", "chunked")], framing: .chunked), body("hello"), end]),
        valid(
            "whitespace before a chunk extension",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x\r\nabc\r\n0\r\n\r\n",
            [head("POST", "/", host + [("Transfer-Encoding", "chunked")], framing: .chunked), body("abc"), end]),
        valid(
            "quoted chunk extension",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 ; n = \"a \\\"b\"\r\nabc\r\n0\r\n\r\n",
            [head("POST", "/", host + [("Transfer-Encoding", "chunked")], framing: .chunked), body("abc"), end]),
        valid(
            "chunked with trailers",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Sum: 1\r\nX-More: two\r\n\r\n",
            [
                head("POST", "/", host + [("Transfer-Encoding", "chunked")], framing: .chunked), body("hi"),
                .end(trailers: HTTPHeaders([("X-Sum", "1"), ("X-More", "two")])),
            ]),
        valid(
            "uppercase hex chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
            [head("POST", "/", host + [("Transfer-Encoding", "chunked")], framing: .chunked), body("0123456789"), end]),
        valid(
            "several chunks",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n",
            [head("POST", "/", host + [("Transfer-Encoding", "chunked")], framing: .chunked), body("abcdef"), end]),
        valid(
            "two pipelined GETs", "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
            [head("GET", "/1", host), end, head("GET", "/2", host), end]),
        valid(
            "body then pipelined GET",
            "POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nokGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
            [
                head("POST", "/1", host + [("Content-Length", "2")], framing: .length(2)), body("ok"), end,
                head("GET", "/2", host), end,
            ]),
        valid(
            "chunked then pipelined GET",
            "POST /1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
            [
                head("POST", "/1", host + [("Transfer-Encoding", "chunked")], framing: .chunked), body("z"), end,
                head("GET", "/2", host), end,
            ]),
        valid(
            "empty line before request line", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", [head("GET", "/", host), end]),
        valid(
            "whitespace around value trimmed", "GET / HTTP/1.1\r\nHost:   x \t \r\n\r\n", [head("GET", "/", host), end]),
        valid(
            "empty header value", "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n",
            [head("GET", "/", host + [("X-Empty", "")]), end]),
        valid(
            "tab inside a value", "GET / HTTP/1.1\r\nHost: x\r\nX-T: a\tb\r\n\r\n",
            [head("GET", "/", host + [("X-T", "a\tb")]), end]),
        valid(
            "Content-Length 0 has no body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            [head("POST", "/", host + [("Content-Length", "0")]), end]),
        valid(
            "repeated equal Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
            [head("POST", "/", host + [("Content-Length", "3, 3")], framing: .length(3)), body("abc"), end]),
        valid(
            "two equal Content-Length fields",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nq",
            [
                head("POST", "/", host + [("Content-Length", "1"), ("Content-Length", "1")], framing: .length(1)),
                body("q"), end,
            ]),
        valid(
            "Transfer-Encoding is case-insensitive",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
            [head("POST", "/", host + [("Transfer-Encoding", "Chunked")], framing: .chunked), end]),
        valid(
            "absolute-form target in origin form", "GET http://x/y HTTP/1.1\r\nHost: x\r\n\r\n",
            [head("GET", "/y", host), end]),
        valid(
            "absolute-form authority replaces Host", "GET HTTP://t:8000/health?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
            [head("GET", "/health?x=1", [("Host", "t:8000")]), end]),
        valid(
            "absolute-form without a path", "GET https://[::1]:8443?q HTTP/1.1\r\nHost: x\r\n\r\n",
            [head("GET", "/?q", [("Host", "[::1]:8443")]), end]),
        valid(
            "Host forms of RFC 9110",
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\nGET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"
                + "GET / HTTP/1.1\r\nHost: ex%41mple.com\r\n\r\nGET / HTTP/1.1\r\nHost:\r\n\r\n",
            [
                head("GET", "/", [("Host", "127.0.0.1:8000")]), end, head("GET", "/", [("Host", "[::1]:80")]), end,
                head("GET", "/", [("Host", "ex%41mple.com")]), end, head("GET", "/", [("Host", "")]), end,
            ]),
        valid("asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", [head("OPTIONS", "*", host), end]),
        valid("extension method", "PURGE /c HTTP/1.1\r\nHost: x\r\n\r\n", [head("PURGE", "/c", host), end]),
        valid(
            "field names keep their case", "GET / HTTP/1.1\r\nhOsT: x\r\nx-a: 1\r\n\r\n",
            [head("GET", "/", [("hOsT", "x"), ("x-a", "1")]), end]),
        valid(
            "colon inside a value", "GET / HTTP/1.1\r\nHost: x:8080\r\n\r\n",
            [head("GET", "/", [("Host", "x:8080")]), end]),
    ]

    static let invalidVectors: [Vector] = [
        invalid(
            "Content-Length with Transfer-Encoding",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        invalid(
            "Transfer-Encoding with Content-Length",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
        invalid("differing Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n", 400),
        invalid(
            "differing Content-Length fields",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        invalid("negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        invalid("signed Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400),
        invalid("non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        invalid("hex Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400),
        invalid("empty Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400),
        invalid(
            "overflowing Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            400),
        invalid("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
        invalid("obs-fold with tab", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400),
        invalid("bare LF after request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
        invalid("bare LF after header", "GET / HTTP/1.1\r\nHost: x\n\r\n", 400),
        invalid("bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
        invalid("bare CR in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
        invalidBytes(
            "NUL in a value", Array("GET / HTTP/1.1\r\nHost: x\r\nX-A: a".utf8) + [0] + Array("b\r\n\r\n".utf8), 400),
        invalidBytes(
            "control character in a value",
            Array("GET / HTTP/1.1\r\nHost: x\r\nX-A: a".utf8) + [1] + Array("\r\n\r\n".utf8), 400),
        invalidBytes(
            "DEL in a value", Array("GET / HTTP/1.1\r\nHost: x\r\nX-A: a".utf8) + [0x7F] + Array("\r\n\r\n".utf8), 400),
        invalid("whitespace before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        invalid("tab before the colon", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400),
        invalid("invalid name character", "GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n", 400),
        invalid("empty field name", "GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n", 400),
        invalid("field without colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        invalid("missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400),
        invalid("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        invalid("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        invalid("Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        invalid("Host with an open bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
        invalid("Host with a non-numeric port", "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400),
        invalid("Host with user info", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
        invalid("absolute form does not replace a missing Host", "GET http://t/ HTTP/1.1\r\n\r\n", 400),
        invalid("absolute form with another scheme", "GET ftp://t/health HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        invalid("absolute form without authority", "GET http:/health HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        invalid("absolute form with user info", "GET http://u@t/ HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        invalid("bare CR after the head", "GET / HTTP/1.1\r\nHost: x\r\n\rX", 400),
        invalid("bare CR ending a header line", "GET / HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n", 400),
        invalid("bare CR in the request line", "GET /\ra HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        invalid("invalid method character", "G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        invalid("lowercase protocol name", "GET / http/1.1\r\nHost: x\r\n\r\n", 400),
        invalid("malformed version", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400),
        invalid("version without minor", "GET / HTTP/1\r\nHost: x\r\n\r\n", 400),
        invalid("two spaces after method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        invalid("request line without version", "GET /\r\nHost: x\r\n\r\n", 400),
        invalidBytes(
            "control character in target", Array("GET /a".utf8) + [1] + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8), 400),
        invalid("whitespace before request line", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        invalid("invalid chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        invalid(
            "signed chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n", 400),
        invalid(
            "chunk data without CRLF",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400),
        invalid(
            "chunk data with bare LF",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400),
        invalid(
            "overflowing chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", 400),
        invalid(
            "chunk extension without name",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n", 400),
        invalid(
            "unterminated quoted extension",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n0\r\n\r\n", 400),
        invalid("chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        invalid("chunked not last", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        invalid("only an unknown coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        invalid("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        invalid(
            "bad trailer field",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: 1\r\n\r\n", 400),
        invalid(
            "unknown coding before chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501),
        invalid(
            "custom coding before chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: x-custom\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        invalid("HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        invalid("HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
        invalid("HTTP/0.9 style version", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505),
        invalid("HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
        invalid(
            "request line over the limit",
            "GET /" + String(repeating: "a", count: 8200) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        invalid("unterminated request line over the limit", "GET /" + String(repeating: "a", count: 8300), 414),
        invalid(
            "request line over a small limit", "GET /abcdefghijkl HTTP/1.1\r\nHost: x\r\n\r\n", 414,
            limits: HTTPLimits(maxStartLineBytes: 16)),
        invalid(
            "header block over 64 KiB",
            "GET / HTTP/1.1\r\nHost: x\r\n"
                + String(repeating: "X-Filler: " + String(repeating: "f", count: 1000) + "\r\n", count: 66) + "\r\n",
            431),
        invalid(
            "more than 100 fields",
            "GET / HTTP/1.1\r\nHost: x\r\n" + (1...100).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431),
        invalid(
            "header block over a small limit",
            "GET / HTTP/1.1\r\nHost: x\r\nX-Long: 0123456789012345678901234567890123456789\r\n\r\n", 431,
            limits: HTTPLimits(maxHeaderBytes: 32)),
        invalid(
            "too many trailer fields",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
                + (1...3).map { "T\($0): v\r\n" }.joined() + "\r\n", 431,
            limits: HTTPLimits(maxHeaderCount: 2)),
    ]

    /// Inputs the fuzzer found (Tests/Fuzz/regressions): an error that depended on the split, and
    /// a header budget that went negative and read before the buffer.
    static let fuzzRegressions: [Vector] = [
        invalid(
            "Kelvin sign in chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chun\u{212A}ed\r\n\r\n0\r\n\r\n", 400),
        invalid(
            "whitespace after chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 400),
        invalidBytes(
            "control byte in a quoted pair",
            Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"\\".utf8) + [1]
                + Array("\"\r\nhello\r\n0\r\n\r\n".utf8),
            400),
        invalid(
            "transfer coding made of semicolons",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ;;;, chunked\r\n\r\n", 400),
        invalid(
            "transfer coding with parameters",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip;q=1, chunked\r\n\r\n", 501),
        invalid(
            "field line filling the 64 KiB budget",
            "GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 65532) + "\r\n", 431),
        invalid(
            "overlong request line ending in a bare LF", "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\n",
            414),
        invalid(
            "bare LF on a line at a small limit", "GET / HTTP/1.1\n", 414, limits: HTTPLimits(maxStartLineBytes: 9)),
        invalid(
            "header budget used up exactly", "GET / HTTP/1.1\r\nHost: aaaaaa\r\n", 431,
            limits: HTTPLimits(maxHeaderBytes: 13)),
        invalid(
            "trailer line filling the budget",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: "
                + String(repeating: "t", count: 65532) + "\r\n", 431),
    ]

    @Test(arguments: validVectors + invalidVectors + fuzzRegressions)
    func decodesTheSameWhateverTheSplit(vector: Vector) {
        let whole = DecoderHarness.decodeRequest(vector.raw, splits: [], limits: vector.limits)
        switch vector.expected {
        case .parts(let parts):
            #expect(whole == DecoderHarness.Outcome(parts: parts, error: nil))
        case .status(let status):
            #expect(whole.error?.status == status, "\(whole)")
        }
        let feedings =
            vector.raw.count > 2000
            ? [Array(stride(from: 0, to: vector.raw.count, by: 7)), [1000]]
            : DecoderHarness.feedings(count: vector.raw.count)
        for splits in feedings {
            let outcome = DecoderHarness.decodeRequest(vector.raw, splits: splits, limits: vector.limits)
            #expect(outcome == whole, "split at \(splits.count == vector.raw.count ? "every byte" : "\(splits)")")
        }
    }

    @Test func vectorCountCoversTheIssue() {
        #expect(Self.validVectors.count + Self.invalidVectors.count >= 60)
    }
}
