package import Codecs

/// An error that knows the response it should become. Any other error a handler throws
/// becomes a 500 `INTERNAL_ERROR` (without its text: no internals leak to clients).
package protocol HTTPResponseError: Error {
    /// The HTTP status.
    var status: Int { get }
    /// The response for this error, carrying `requestID` in its body.
    func makeResponse(requestID: String) -> Response
}

/// The gateway's error, in the one shape every route answers with:
/// `{"error": {"code", "message", "details", "request_id"}}`.
package struct HTTPError: HTTPResponseError, Equatable {
    package var status: Int
    package var code: ErrorCode
    package var message: String
    package var details: [String: String]
    package var headers: HTTPHeaders

    package init(
        status: Int, code: ErrorCode, message: String, details: [String: String] = [:],
        headers: HTTPHeaders = HTTPHeaders()
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }

    package func makeResponse(requestID: String) -> Response {
        Self.response(
            status: status, code: code.rawValue, message: message, details: details.mapValues(JSONValue.string),
            requestID: requestID, headers: headers)
    }

    /// Builds an error response in the API's error shape (`ErrorEnvelope`).
    package static func response(
        status: Int, code: String, message: String, details: [String: JSONValue], requestID: String,
        headers: HTTPHeaders = HTTPHeaders()
    ) -> Response {
        let body = ErrorEnvelope.body(code: code, message: message, details: details, requestID: requestID)
        var response = Response.json(body, status: status)
        for field in headers { response.headers.replaceOrAdd(name: field.name, value: field.value) }
        return response
    }

    /// 404 for a path no route matches.
    package static func notFound(path: some StringProtocol) -> HTTPError {
        HTTPError(
            status: 404, code: .notFound, message: "No route matches '\(path)'.", details: ["path": String(path)])
    }

    /// 405 with the methods the path does support in `Allow`.
    package static func methodNotAllowed(_ method: HTTPMethod, allowed: [HTTPMethod]) -> HTTPError {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        return HTTPError(
            status: 405, code: .methodNotAllowed, message: "Method \(method) is not allowed here; use \(allow).",
            details: ["method": method.rawValue, "allowed": allow], headers: ["Allow": allow])
    }

    /// 500 for anything unexpected.
    package static let internalError = HTTPError(
        status: 500, code: .internalError, message: "The gateway hit an unexpected error.")

    /// The error for a request the decoder rejected (400, 413, 414, 431, 501, 505).
    package static func parseError(_ error: HTTPParseError) -> HTTPError {
        let code: ErrorCode
        switch error {
        case .bodyTooLarge: code = .payloadTooLarge
        default: code = .invalidRequest
        }
        return HTTPError(status: error.status, code: code, message: error.message)
    }

    /// 413 for a body over the route's limit.
    package static func payloadTooLarge(limit: Int) -> HTTPError {
        HTTPError(
            status: 413, code: .payloadTooLarge, message: "The request body is larger than \(limit) bytes.",
            details: ["limit": String(limit)])
    }

    /// 408 when the client is too slow to send its request.
    package static let requestTimeout = HTTPError(
        status: 408, code: .requestTimeout, message: "The request did not arrive in time.")

    /// 503 while the server shuts down or is at its connection limit.
    package static let unavailable = HTTPError(
        status: 503, code: .serviceUnavailable, message: "The gateway is not accepting requests right now.")
}
