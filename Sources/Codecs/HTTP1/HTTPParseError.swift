/// Why a message could not be decoded, with the status a server answers it with.
///
/// After any of these the connection's framing is lost: the server answers once and closes.
package enum HTTPParseError: Error, Sendable, Equatable {
    /// Malformed syntax or a framing conflict (smuggling vectors land here): 400.
    case badRequest(String)
    /// The request line is longer than the limit: 414.
    case uriTooLong
    /// The header block has too many bytes or fields: 431.
    case headersTooLarge
    /// A transfer coding other than chunked: 501.
    case unsupportedTransferCoding(String)
    /// A well-formed HTTP version other than 1.0 and 1.1: 505.
    case unsupportedVersion(String)
    /// The body is larger than allowed: 413.
    case bodyTooLarge
    /// A response (client role) that cannot be parsed.
    case badResponse(String)

    /// The status code a server sends for this error.
    package var status: Int {
        switch self {
        case .badRequest, .badResponse: 400
        case .uriTooLong: 414
        case .headersTooLarge: 431
        case .unsupportedTransferCoding: 501
        case .unsupportedVersion: 505
        case .bodyTooLarge: 413
        }
    }

    /// A sentence for the error body and logs.
    package var message: String {
        switch self {
        case .badRequest(let reason): "Malformed request: \(reason)."
        case .badResponse(let reason): "Malformed response: \(reason)."
        case .uriTooLong: "The request line is too long."
        case .headersTooLarge: "The request header fields are too large."
        case .unsupportedTransferCoding(let coding): "Transfer coding '\(coding)' is not supported."
        case .unsupportedVersion(let version): "HTTP version '\(version)' is not supported."
        case .bodyTooLarge: "The request body is too large."
        }
    }
}

/// The decoders' limits, in one value (RFC 9112 leaves them to the implementation).
package struct HTTPLimits: Sendable, Equatable {
    /// Longest request line (or status line), without its CRLF: 414 beyond.
    package var maxStartLineBytes: Int
    /// Most bytes in the header section (and in trailers): 431 beyond.
    package var maxHeaderBytes: Int
    /// Most header fields (and trailer fields): 431 beyond.
    package var maxHeaderCount: Int
    /// Longest chunk-size line, extensions included.
    package var maxChunkLineBytes: Int

    package init(
        maxStartLineBytes: Int = 8 * 1024, maxHeaderBytes: Int = 64 * 1024, maxHeaderCount: Int = 100,
        maxChunkLineBytes: Int = 4 * 1024
    ) {
        self.maxStartLineBytes = maxStartLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxChunkLineBytes = maxChunkLineBytes
    }
}
