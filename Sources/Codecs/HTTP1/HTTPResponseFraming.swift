/// How a server response is framed on the wire (RFC 9112 section 6, RFC 9110 section 6.4.1):
/// whether it may carry a body, which length header announces it, and what `Connection` field it
/// needs so the client knows whether the connection stays open. Pure: the server decides, the
/// encoder writes.
package enum HTTPResponseFraming {
    /// 1xx, 204 and 304 responses never have a body (RFC 9110 sections 6.4.1, 15.3.5, 15.4.5).
    package static func bodyAllowed(status: Int) -> Bool {
        status >= 200 && status != 204 && status != 304
    }

    /// The framing of a response with `status` whose body is `length` bytes (nil: not known in
    /// advance) to a client speaking `version`: `Content-Length` when the length is known, chunked
    /// to an HTTP/1.1 client, else delimited by closing the connection (HTTP/1.0 has no chunks).
    package static func framing(status: Int, length: Int?, version: HTTPVersion) -> HTTPBodyFraming {
        guard bodyAllowed(status: status) else { return .none }
        if let length { return .length(length) }
        return version == .http1_1 ? .chunked : .untilClose
    }

    /// Sets the `Connection` field `head` needs: `close` when the connection ends after it
    /// (asked for, or a body delimited by the close), `keep-alive` to an HTTP/1.0 client whose
    /// connection stays open (1.0 closes by default), nothing otherwise (1.1 persists by default).
    package static func setConnection(keepAlive: Bool, version: HTTPVersion, on head: inout HTTPResponseHead) {
        if !keepAlive || head.framing == .untilClose {
            head.headers.replaceOrAdd(name: "Connection", value: "close")
        } else if version == .http1_0 {
            head.headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
    }

    /// Appends a complete response, head then `body`; the body is left out for a `HEAD` request
    /// (`headOnly`: the head still announces its length) and for a status that has none.
    package static func encode(
        status: Int, headers: HTTPHeaders, body: [UInt8], keepAlive: Bool, headOnly: Bool, version: HTTPVersion,
        date: String?, into bytes: inout [UInt8]
    ) {
        let allowed = bodyAllowed(status: status)
        var head = HTTPResponseHead(status: status, headers: headers, framing: allowed ? .length(body.count) : .none)
        setConnection(keepAlive: keepAlive, version: version, on: &head)
        bytes.reserveCapacity(bytes.count + 256 + body.count)
        HTTPEncoder.encode(head, date: date, into: &bytes)
        if !headOnly && allowed { bytes.append(contentsOf: body) }
    }
}
