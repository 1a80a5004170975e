package import Codecs

/// A request for `HTTPClient`: method, origin-form target (`/view?filename=a.png`), header
/// fields and body. `Host` is added by the client. Not `Sendable`: a streamed body is produced on
/// the loop that sends it.
package struct HTTPClientRequest {
    /// Where the body comes from.
    package enum Body {
        case none
        /// Bytes in memory: sent with `Content-Length`, and replayable, so a request that met a
        /// connection the upstream had just closed can be retried.
        case bytes([UInt8])
        /// Chunks produced on demand (`nil` ends the body), written as fast as the upstream
        /// reads them: with `Content-Length` when `length` is known, else chunked. Not
        /// replayable, so never retried.
        case stream(length: Int?, next: () async throws -> [UInt8]?)
    }

    package var method: HTTPMethod
    package var target: String
    package var headers: HTTPHeaders
    package var body: Body
    /// True when the whole response, body included, must arrive within the client's request
    /// timeout (a JSON answer read at once); false for a streamed body, which only fails when it
    /// stalls that long while the application waits for it.
    package var bodyWithinTimeout = false

    package init(method: HTTPMethod = .get, target: String, headers: HTTPHeaders = HTTPHeaders(), body: Body = .none) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// A request that may be sent twice without changing the outcome (RFC 9110 section 9.2.2)
    /// and whose body can be sent again.
    var isSafeToRetry: Bool {
        guard [HTTPMethod.get, .head, .put, .delete, .options].contains(method) else { return false }
        if case .stream = body { return false }
        return true
    }
}
