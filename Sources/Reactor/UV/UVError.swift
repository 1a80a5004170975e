import CLibUV
import Glibc

/// A libuv error: the negative status code a libuv call or callback reported, with its name.
///
/// `uvCheck` is the one place negative return codes are turned into this error, so every
/// failure of the reactor carries the libuv name (`ECONNREFUSED`) and the operation that failed.
package struct UVError: Error, Equatable, CustomStringConvertible {
    /// The libuv status code (negative errno on Unix).
    package let code: Int32
    /// The operation that failed, for logs (`"uv_tcp_bind"`).
    package let operation: String

    package init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// libuv's symbolic name for the code, such as `ECONNRESET`.
    package var name: String { String(cString: uv_err_name(code)) }

    /// True when a request was cancelled because its handle closed under it: not a failure to log.
    package var isCancellation: Bool { code == clibuv_ecanceled() }

    /// True for the end of a stream.
    package var isEOF: Bool { code == clibuv_eof() }

    /// True when the operation timed out.
    package var isTimeout: Bool { code == clibuv_etimedout() }

    package var description: String {
        "\(operation): \(name) (\(String(cString: uv_strerror(code))))"
    }

    package static func == (lhs: UVError, rhs: UVError) -> Bool { lhs.code == rhs.code }

    /// The error for a connect or read that ran past its deadline.
    package static func timedOut(_ operation: String) -> UVError {
        UVError(code: clibuv_etimedout(), operation: operation)
    }

    /// The error for work handed to a loop that has closed (`ESHUTDOWN`, as libuv reports it).
    package static let loopClosed = UVError(code: -ESHUTDOWN, operation: "the event loop has closed")

    /// The error a pending operation gets when its handle is closed under it.
    package static func cancelled(_ operation: String) -> UVError {
        UVError(code: clibuv_ecanceled(), operation: operation)
    }
}

/// Throws a `UVError` when `status` is negative; returns it otherwise.
@discardableResult
func uvCheck(_ status: Int32, _ operation: StaticString) throws(UVError) -> Int32 {
    if status < 0 {
        throw UVError(code: status, operation: operation.description)
    }
    return status
}
