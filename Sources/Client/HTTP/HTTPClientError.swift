/// Why an exchange with the upstream failed. Callers map these to the API's error codes:
/// `connectFailed` and `connectionClosed` to CONNECTION_ERROR, `timedOut` to TASK_TIMEOUT.
package enum HTTPClientError: Error, Equatable, CustomStringConvertible {
    /// No connection could be opened: refused, unreachable, or the name did not resolve.
    case connectFailed(String)
    /// The connection closed or was reset before the response was complete.
    case connectionClosed(String)
    /// No connection, or no response, within the time allowed.
    case timedOut(String)
    /// The upstream answered with something that is not valid HTTP/1.1.
    case invalidResponse(String)
    /// The request could not be sent as given (a streamed body of the wrong length).
    case invalidRequest(String)
    /// The client was shut down.
    case shutDown
    /// The task that made the request was cancelled (its caller left); the connection was closed.
    case cancelled

    package var description: String {
        switch self {
        case .connectFailed(let reason): "cannot connect: \(reason)"
        case .connectionClosed(let reason): "connection closed: \(reason)"
        case .timedOut(let what): "timed out: \(what)"
        case .invalidResponse(let reason): "invalid response: \(reason)"
        case .invalidRequest(let reason): "invalid request: \(reason)"
        case .shutDown: "the HTTP client is shut down"
        case .cancelled: "the request was cancelled"
        }
    }
}

/// A failed exchange, with whether any byte of the response had arrived (a request whose
/// reused connection failed before that may be retried).
struct ExchangeFailure: Error {
    let error: HTTPClientError
    let beforeResponse: Bool
}
