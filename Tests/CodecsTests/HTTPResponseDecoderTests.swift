import Codecs
import Testing

/// The client-role decoder: status lines, framing that depends on the request, until-close bodies.
struct HTTPResponseDecoderTests {
    typealias Part = HTTPResponseDecoder.Part

    /// Decodes `raw` after announcing `methods`, fed whole and byte by byte; both must agree.
    func decode(_ raw: String, methods: [HTTPMethod] = [.get], peerCloses: Bool = false) throws -> [Part] {
        var results: [[Part]] = []
        for byteByByte in [false, true] {
            var decoder = HTTPResponseDecoder()
            for method in methods { decoder.expectResponse(to: method) }
            var parts: [Part] = []
            let bytes = Array(raw.utf8)
            let pieces = byteByByte ? bytes.map { [$0] } : [bytes]
            for piece in pieces {
                decoder.append(piece)
                while let part = try decoder.next() {
                    if case .body(let more) = part, case .body(let earlier)? = parts.last {
                        parts[parts.count - 1] = .body(earlier + more)
                    } else {
                        parts.append(part)
                    }
                }
            }
            if peerCloses {
                decoder.peerDidClose()
                while let part = try decoder.next() { parts.append(part) }
            }
            results.append(parts)
        }
        #expect(results[0] == results[1])
        return results[0]
    }

    @Test func contentLengthBody() throws {
        let parts = try decode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        #expect(parts.count == 3)
        guard case .head(let head) = parts[0] else { Issue.record("no head"); return }
        #expect(head.status == 200 && head.reason == "OK" && head.framing == .length(2))
        #expect(parts[1] == .body(Array("hi".utf8)))
    }

    @Test func chunkedBodyWithTrailers() throws {
        let parts = try decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")
        #expect(parts.last == .end(trailers: HTTPHeaders([("X-T", "1")])))
        #expect(parts[1] == .body(Array("abc".utf8)))
    }

    @Test func headResponseHasNoBodyDespiteContentLength() throws {
        let parts = try decode(
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", methods: [.head, .get])
        #expect(parts.count == 4)
        guard case .head(let second) = parts[2] else { Issue.record("no second head"); return }
        #expect(second.status == 204)
    }

    @Test func interimResponseThenFinal() throws {
        let parts = try decode("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        let statuses = parts.compactMap { part -> Int? in if case .head(let head) = part { head.status } else { nil } }
        #expect(statuses == [100, 201])
    }

    @Test func bodyUntilClose() throws {
        let parts = try decode("HTTP/1.0 200 OK\r\n\r\nall of it", peerCloses: true)
        #expect(parts[1] == .body(Array("all of it".utf8)))
        #expect(parts.last == .end(trailers: HTTPHeaders()))
    }

    @Test func statusLineWithoutReason() throws {
        let parts = try decode("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n")
        guard case .head(let head) = parts[0] else { Issue.record("no head"); return }
        #expect(head.status == 404 && head.reason == "")
    }

    @Test func decoderStaysFailedAfterAnError() {
        var decoder = HTTPResponseDecoder()
        decoder.expectResponse(to: .get)
        decoder.append(Array("HTTP/1.1 20x OK\r\n\r\nHTTP/1.1 200 OK\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.self) { _ = try decoder.next() }
        #expect(throws: HTTPParseError.self) { _ = try decoder.next() }
    }

    @Test(arguments: [
        "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
    ])
    func malformedResponsesAreRejected(raw: String) {
        #expect(throws: HTTPParseError.self) { try decode(raw) }
    }
}
