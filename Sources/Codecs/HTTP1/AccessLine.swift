/// One request as the access log tells it: the message `GET /path 200 0.05ms` (method, target,
/// status, time to the response in milliseconds with two decimals), the peer and the request id.
/// The message is appended as bytes straight into a log buffer: no string is made per request.
package struct AccessLine: Sendable {
    package var method: String
    /// The target as it should be logged (secrets already redacted).
    package var target: String
    package var status: Int
    package var microseconds: Int64
    package var remote: String
    package var requestID: String

    package init(
        method: String, target: String, status: Int, microseconds: Int64, remote: String, requestID: String
    ) {
        self.method = method
        self.target = target
        self.status = status
        self.microseconds = microseconds
        self.remote = remote
        self.requestID = requestID
    }

    /// Appends the message (`GET /path 200 0.05ms`).
    package func appendMessage(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: method.utf8)
        bytes.append(0x20)
        bytes.append(contentsOf: target.utf8)
        bytes.append(0x20)
        Self.appendDecimal(Int64(status), to: &bytes)
        bytes.append(0x20)
        let microseconds = max(0, microseconds)
        Self.appendDecimal(microseconds / 1000, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        let hundredths = microseconds % 1000 / 10
        bytes.append(UInt8(ascii: "0") + UInt8(hundredths / 10))
        bytes.append(UInt8(ascii: "0") + UInt8(hundredths % 10))
        bytes.append(contentsOf: "ms".utf8)
    }

    /// The message as a string (for a log handler that takes one).
    package var message: String {
        var bytes: [UInt8] = []
        appendMessage(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value >= 10 { appendDecimal(value / 10, to: &bytes) }
        bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
