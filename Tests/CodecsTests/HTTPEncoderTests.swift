import Codecs
import Testing

/// The encoder's output, checked byte for byte and by decoding it back.
struct HTTPEncoderTests {
    @Test func responseHeadWithLength() {
        var bytes: [UInt8] = []
        let head = HTTPResponseHead(status: 200, headers: ["Content-Type": "text/plain"], framing: .length(5))
        HTTPEncoder.encode(head, date: "Sun, 06 Nov 1994 08:49:37 GMT", into: &bytes)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
        )
    }

    @Test func framingHeadersFromCallerAreReplaced() {
        var bytes: [UInt8] = []
        let head = HTTPResponseHead(
            status: 200, headers: HTTPHeaders([("Content-Length", "99"), ("Transfer-Encoding", "gzip")]),
            framing: .chunked)
        HTTPEncoder.encode(head, date: nil, into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    }

    @Test func headerInjectionIsDropped() {
        var bytes: [UInt8] = []
        let head = HTTPResponseHead(
            status: 200,
            headers: HTTPHeaders([("X-Ok", "fine"), ("X-Bad", "a\r\nSet-Cookie: evil"), ("Bad Name", "v")]))
        HTTPEncoder.encode(head, date: nil, into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("X-Ok: fine"))
        #expect(!text.contains("evil"))
        #expect(!text.contains("Bad Name"))
    }

    @Test func noContentLengthWhereBodyIsForbidden() {
        for status in [101, 204, 304] {
            var bytes: [UInt8] = []
            HTTPEncoder.encode(HTTPResponseHead(status: status), date: nil, into: &bytes)
            #expect(!String(decoding: bytes, as: UTF8.self).contains("Content-Length"), "status \(status)")
        }
        var bytes: [UInt8] = []
        HTTPEncoder.encode(HTTPResponseHead(status: 200), date: nil, into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self).contains("Content-Length: 0"))
    }

    @Test func chunkedBodyRoundTripsThroughTheDecoder() throws {
        var bytes: [UInt8] = []
        HTTPEncoder.encode(HTTPResponseHead(status: 200, framing: .chunked), date: nil, into: &bytes)
        let payload = (0..<3000).map { UInt8($0 % 251) }
        HTTPEncoder.encodeChunk(Array(payload[0..<1000]), into: &bytes)
        HTTPEncoder.encodeChunk([], into: &bytes)
        HTTPEncoder.encodeChunk(Array(payload[1000...]), into: &bytes)
        HTTPEncoder.encodeLastChunk(trailers: ["X-Done": "yes"], into: &bytes)
        var decoder = HTTPResponseDecoder()
        decoder.expectResponse(to: .get)
        decoder.append(bytes)
        var body: [UInt8] = []
        var trailers: HTTPHeaders?
        while let part = try decoder.next() {
            switch part {
            case .head: break
            case .body(let chunk): body += chunk
            case .end(let fields): trailers = fields
            }
        }
        #expect(body == payload)
        #expect(trailers == ["X-Done": "yes"])
    }

    @Test func requestHeadRoundTrips() throws {
        var bytes: [UInt8] = []
        let head = HTTPRequestHead(method: .post, target: "/prompt", headers: ["Host": "comfy"], framing: .length(2))
        HTTPEncoder.encode(head, into: &bytes)
        bytes += Array("{}".utf8)
        var decoder = HTTPRequestDecoder()
        decoder.append(bytes)
        #expect(
            try decoder.next()
                == .head(
                    HTTPRequestHead(
                        method: .post, target: "/prompt",
                        headers: HTTPHeaders([("Host", "comfy"), ("Content-Length", "2")]), framing: .length(2))))
        #expect(try decoder.next() == .body(Array("{}".utf8)))
    }

    @Test(arguments: [
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"), (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"), (1_798_761_599, "Thu, 31 Dec 2026 23:59:59 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
    ])
    func imfFixdate(second: Int, expected: String) {
        #expect(HTTPDateCache.format(epochSecond: second) == expected)
    }

    @Test func dateCacheRefreshesEachSecond() {
        var cache = HTTPDateCache()
        #expect(cache.string(forEpochSecond: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(cache.string(forEpochSecond: 1) == "Thu, 01 Jan 1970 00:00:01 GMT")
    }
}

/// IMF-fixdate parsing, checked against the formatter over a wide range of instants.
struct HTTPDateParserTests {
    @Test func theRFCExampleParses() {
        #expect(HTTPDateParser.epochSecond("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
    }

    @Test func parsingInvertsFormatting() {
        for second in stride(from: -2_000_000_000, through: 4_000_000_000, by: 7_654_321) {
            #expect(HTTPDateParser.epochSecond(HTTPDateCache.format(epochSecond: second)) == Int64(second))
        }
    }

    @Test(arguments: [
        "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "",
    ])
    func otherFormsAreNotParsed(text: String) {
        #expect(HTTPDateParser.epochSecond(text) == nil)
    }
}
