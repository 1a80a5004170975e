/// Serialises message heads and chunked body framing (both roles).
///
/// The framing in the head decides the length headers: `.length(n)` writes `Content-Length`,
/// `.chunked` writes `Transfer-Encoding: chunked`, `.none` writes `Content-Length: 0` where a
/// body could exist, and `.untilClose` writes neither. Length and transfer-coding fields passed in
/// `headers` are dropped, so a head can never announce two framings. Fields whose name is not a
/// token or whose value holds CR, LF or another control character are dropped too: header
/// injection cannot pass through the encoder.
package enum HTTPEncoder {
    /// Appends a response head. `date` is the `Date` value (from `HTTPDateCache`); nil omits it.
    package static func encode(_ head: HTTPResponseHead, date: String?, into bytes: inout [UInt8]) {
        appendVersion(head.version, into: &bytes)
        bytes.append(0x20)
        appendStatusCode(head.status, into: &bytes)
        bytes.append(0x20)
        for byte in head.reason.utf8 where HTTPSyntax.isFieldValueByte(byte) { bytes.append(byte) }
        bytes.append(contentsOf: crlf)
        if let date { appendField("Date", date, into: &bytes) }
        let bodyForbidden = head.status < 200 || head.status == 204 || head.status == 304
        appendFields(head.headers, framing: head.framing, bodyForbidden: bodyForbidden, into: &bytes)
        bytes.append(contentsOf: crlf)
    }

    /// Appends a request head (the client role).
    package static func encode(_ head: HTTPRequestHead, into bytes: inout [UInt8]) {
        bytes.append(contentsOf: head.method.rawValue.utf8)
        bytes.append(0x20)
        bytes.append(contentsOf: head.target.utf8)
        bytes.append(0x20)
        appendVersion(head.version, into: &bytes)
        bytes.append(contentsOf: crlf)
        let bodyless = head.framing == .none && [HTTPMethod.get, .head, .delete, .options].contains(head.method)
        appendFields(head.headers, framing: head.framing, bodyForbidden: bodyless, into: &bytes)
        bytes.append(contentsOf: crlf)
    }

    /// One chunk of a chunked body: size line, data, CRLF. Empty data encodes nothing (an empty
    /// chunk would end the body).
    package static func encodeChunk(_ data: [UInt8], into bytes: inout [UInt8]) {
        guard !data.isEmpty else { return }
        bytes.append(contentsOf: String(data.count, radix: 16).utf8)
        bytes.append(contentsOf: crlf)
        bytes.append(contentsOf: data)
        bytes.append(contentsOf: crlf)
    }

    /// The last chunk, with optional trailer fields.
    package static func encodeLastChunk(trailers: HTTPHeaders = HTTPHeaders(), into bytes: inout [UInt8]) {
        bytes.append(0x30)
        bytes.append(contentsOf: crlf)
        for field in trailers where isValid(field) { appendField(field.name, field.value, into: &bytes) }
        bytes.append(contentsOf: crlf)
    }

    private static let crlf: [UInt8] = [0x0D, 0x0A]

    /// `HTTP/x.y` without formatting a string (this runs for every response).
    private static func appendVersion(_ version: HTTPVersion, into bytes: inout [UInt8]) {
        bytes.append(contentsOf: [0x48, 0x54, 0x54, 0x50, 0x2F])
        bytes.append(UInt8(truncatingIfNeeded: 0x30 + version.major))
        bytes.append(0x2E)
        bytes.append(UInt8(truncatingIfNeeded: 0x30 + version.minor))
    }

    private static func appendFields(
        _ headers: HTTPHeaders, framing: HTTPBodyFraming, bodyForbidden: Bool, into bytes: inout [UInt8]
    ) {
        for field in headers where isValid(field) {
            if HTTPHeaders.namesEqual(field.name, "Content-Length")
                || HTTPHeaders.namesEqual(field.name, "Transfer-Encoding")
            {
                continue
            }
            appendField(field.name, field.value, into: &bytes)
        }
        switch framing {
        case .length(let count): appendField("Content-Length", String(count), into: &bytes)
        case .chunked: appendField("Transfer-Encoding", "chunked", into: &bytes)
        case .none where !bodyForbidden: appendField("Content-Length", "0", into: &bytes)
        case .none, .untilClose: break
        }
    }

    private static func isValid(_ field: (name: String, value: String)) -> Bool {
        HTTPSyntax.isToken(field.name) && field.value.utf8.allSatisfy(HTTPSyntax.isFieldValueByte)
    }

    private static func appendField(_ name: String, _ value: String, into bytes: inout [UInt8]) {
        bytes.append(contentsOf: name.utf8)
        bytes.append(0x3A)
        bytes.append(0x20)
        bytes.append(contentsOf: value.utf8)
        bytes.append(contentsOf: crlf)
    }

    private static func appendStatusCode(_ status: Int, into bytes: inout [UInt8]) {
        let clamped = min(max(status, 100), 999)
        bytes.append(UInt8(0x30 + clamped / 100))
        bytes.append(UInt8(0x30 + clamped / 10 % 10))
        bytes.append(UInt8(0x30 + clamped % 10))
    }
}

/// Formats the IMF-fixdate of RFC 9110 (`Sun, 06 Nov 1994 08:49:37 GMT`) and remembers it for the
/// current second, so a busy server formats a date once per second, not once per response.
package struct HTTPDateCache: Sendable {
    private var second: Int = .min
    private var cached = ""

    package init() {}

    /// The date for `epochSecond` (seconds since 1970, UTC).
    package mutating func string(forEpochSecond epochSecond: Int) -> String {
        if epochSecond != second {
            second = epochSecond
            cached = Self.format(epochSecond: epochSecond)
        }
        return cached
    }

    /// Formats without caching (a pure function, from Howard Hinnant's days-to-civil algorithm).
    package static func format(epochSecond: Int) -> String {
        let days = epochSecond >= 0 ? epochSecond / 86400 : (epochSecond - 86399) / 86400
        let secondOfDay = epochSecond - days * 86400
        let weekday = ((days % 7) + 11) % 7
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let time = "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))"
        return "\(weekdays[weekday]), \(two(day)) \(months[month - 1]) \(year) \(time) GMT"
    }
}
