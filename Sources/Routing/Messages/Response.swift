package import Codecs

/// A response a handler returns: status, headers and a body that is either bytes in hand or a
/// producer that streams them.
package struct Response: Sendable {
    package var status: Int
    package var headers: HTTPHeaders
    package var body: ResponseBody

    package init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: ResponseBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response (`application/json; charset=utf-8`), written by the one JSON writer.
    package static func json(_ value: JSONValue, status: Int = 200) -> Response {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        return Response(status: status, headers: headers, body: .bytes(JSONWriter.write(value)))
    }
}

/// The body of a response.
package enum ResponseBody: Sendable {
    /// All bytes at once (sent with `Content-Length`).
    case bytes([UInt8])
    /// Bytes produced over time. With a known length it is sent with `Content-Length`, else
    /// chunked (or, to an HTTP/1.0 client, delimited by closing the connection).
    case stream(length: Int?, producer: @Sendable (ResponseBodyWriter) async throws -> Void)
}

/// Where a streamed body's producer writes; each write waits while the socket is backed up.
package protocol ResponseBodyWriter {
    func write(_ bytes: [UInt8]) async throws
}

extension Response {
    /// Sets a header, replacing any of the same name (for modules that do not import Codecs).
    package mutating func setHeader(_ name: String, _ value: String) {
        headers.replaceOrAdd(name: name, value: value)
    }
}
