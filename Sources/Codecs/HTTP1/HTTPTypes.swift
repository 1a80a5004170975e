/// An HTTP version; only 1.0 and 1.1 are spoken.
package struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    package var major: Int
    package var minor: Int

    package init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    package static let http1_0 = HTTPVersion(major: 1, minor: 0)
    package static let http1_1 = HTTPVersion(major: 1, minor: 1)

    package var description: String { "HTTP/\(major).\(minor)" }
}

/// A request method, kept as the token the client sent (methods are case-sensitive).
package struct HTTPMethod: Sendable, Hashable, CustomStringConvertible {
    package let rawValue: String

    package init(_ rawValue: String) { self.rawValue = rawValue }

    package static let get = HTTPMethod("GET")
    package static let head = HTTPMethod("HEAD")
    package static let post = HTTPMethod("POST")
    package static let put = HTTPMethod("PUT")
    package static let delete = HTTPMethod("DELETE")
    package static let patch = HTTPMethod("PATCH")
    package static let options = HTTPMethod("OPTIONS")

    package var description: String { rawValue }
}

/// How a message's body is delimited on the wire (RFC 9112 section 6.3).
package enum HTTPBodyFraming: Sendable, Equatable {
    /// No body at all.
    case none
    /// Exactly this many bytes (`Content-Length`).
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
    /// Until the connection closes (responses only).
    case untilClose
}

/// The head of a request: request line and header fields, with the framing decided from them.
package struct HTTPRequestHead: Sendable, Equatable {
    package var method: HTTPMethod
    /// The request target as sent (`/path?query` in origin form).
    package var target: String
    package var version: HTTPVersion
    package var headers: HTTPHeaders
    package var framing: HTTPBodyFraming

    package init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:],
        framing: HTTPBodyFraming = .none
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.framing = framing
    }

    /// The path part of the target (before `?`).
    package var path: Substring {
        queryMark.map { target[..<$0] } ?? target[...]
    }

    /// The query part of the target (after `?`), if any.
    package var query: Substring? {
        queryMark.map { target[target.utf8.index(after: $0)...] }
    }

    /// Where the `?` is: searched as a byte (an ASCII byte is never inside a multi-byte
    /// character), not as a `Character`, which would cost grapheme breaking on every request.
    private var queryMark: String.Index? {
        target.utf8.firstIndex(of: UInt8(ascii: "?"))
    }

    /// Whether the connection stays open after this exchange: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    package var keepAlive: Bool {
        let connection = headers.tokens("Connection")
        if version == .http1_1 { return !connection.contains("close") }
        return connection.contains("keep-alive")
    }

    /// True when the client sent `Expect: 100-continue`.
    package var expectsContinue: Bool {
        headers[first: "Expect"].map { HTTPSyntax.asciiLowercased($0[...]) == "100-continue" } ?? false
    }
}

/// The head of a response: status line and header fields.
package struct HTTPResponseHead: Sendable, Equatable {
    package var version: HTTPVersion
    package var status: Int
    package var reason: String
    package var headers: HTTPHeaders
    package var framing: HTTPBodyFraming

    package init(
        version: HTTPVersion = .http1_1, status: Int, reason: String? = nil, headers: HTTPHeaders = [:],
        framing: HTTPBodyFraming = .none
    ) {
        self.version = version
        self.status = status
        self.reason = reason ?? HTTPStatusReason.phrase(for: status)
        self.headers = headers
        self.framing = framing
    }
}

/// The standard reason phrases.
package enum HTTPStatusReason {
    package static func phrase(for status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }
}
