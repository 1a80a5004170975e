import Codecs
import Testing

/// How a server response is framed: which statuses carry a body, which length header, and the
/// `Connection` field each version needs.
struct HTTPResponseFramingTests {
    @Test(arguments: [(100, false), (101, false), (200, true), (204, false), (304, false), (404, true)])
    func onlyStatusesThatMayHaveABodyGetOne(status: Int, allowed: Bool) {
        #expect(HTTPResponseFraming.bodyAllowed(status: status) == allowed)
    }

    @Test func aStreamedBodyIsChunkedTo11AndDelimitedByTheCloseTo10() {
        #expect(HTTPResponseFraming.framing(status: 200, length: 7, version: .http1_0) == .length(7))
        #expect(HTTPResponseFraming.framing(status: 200, length: nil, version: .http1_1) == .chunked)
        #expect(HTTPResponseFraming.framing(status: 200, length: nil, version: .http1_0) == .untilClose)
        #expect(HTTPResponseFraming.framing(status: 304, length: 7, version: .http1_1) == .none)
    }

    @Test func theConnectionFieldSaysWhatTheVersionDoesNotImply() {
        func connection(keepAlive: Bool, version: HTTPVersion, framing: HTTPBodyFraming = .length(1)) -> String? {
            var head = HTTPResponseHead(status: 200, framing: framing)
            HTTPResponseFraming.setConnection(keepAlive: keepAlive, version: version, on: &head)
            return head.headers[first: "Connection"]
        }
        #expect(connection(keepAlive: true, version: .http1_1) == nil)
        #expect(connection(keepAlive: false, version: .http1_1) == "close")
        #expect(connection(keepAlive: true, version: .http1_0) == "keep-alive")
        #expect(connection(keepAlive: false, version: .http1_0) == "close")
        #expect(connection(keepAlive: true, version: .http1_0, framing: .untilClose) == "close")
    }

    @Test func aHeadResponseAnnouncesTheLengthButCarriesNoBody() {
        var bytes: [UInt8] = []
        HTTPResponseFraming.encode(
            status: 200, headers: ["Content-Type": "text/plain"], body: Array("hello".utf8), keepAlive: true,
            headOnly: true, version: .http1_1, date: nil, into: &bytes)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n")
        bytes.removeAll()
        HTTPResponseFraming.encode(
            status: 204, headers: [:], body: Array("x".utf8), keepAlive: false, headOnly: false, version: .http1_1,
            date: nil, into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
    }
}
