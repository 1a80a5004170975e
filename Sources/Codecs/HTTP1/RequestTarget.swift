/// The request-target forms of RFC 9112 section 3.2 and the `Host` value rule of RFC 9110
/// section 7.2, as a server applies them.
///
/// A server must accept the absolute form (`GET http://example.com/health HTTP/1.1`): the path
/// and query become the target the router sees, and the authority of the target replaces `Host`
/// (RFC 9112 section 3.2.2: the recipient ignores the `Host` field then). A `Host` whose value is
/// not `uri-host [ ":" port ]` is a 400 (RFC 9112 section 3.2).
enum RequestTarget {
    /// The origin-form target and the authority taken from an absolute-form target, or nil
    /// when the target is not in absolute form. Throws for an absolute form the server does not
    /// serve (a scheme other than http/https, no authority, or an invalid one).
    static func absoluteForm(_ target: String) throws(HTTPParseError) -> (target: String, authority: String)? {
        guard let first = target.utf8.first, first != 0x2F, first != 0x2A else { return nil }
        let bytes = Array(target.utf8)
        guard let colon = bytes.firstIndex(of: 0x3A), colon > 0, isScheme(bytes[..<colon]) else {
            throw .badRequest("invalid request target")
        }
        let scheme = HTTPSyntax.asciiLowercased(target[..<target.utf8.index(target.startIndex, offsetBy: colon)])
        guard scheme == "http" || scheme == "https" else {
            throw .badRequest("request target with scheme '\(scheme)'")
        }
        let afterScheme = bytes[(colon + 1)...]
        guard afterScheme.starts(with: [0x2F, 0x2F]) else { throw .badRequest("absolute target without authority") }
        let authorityStart = colon + 3
        let authorityEnd =
            bytes[authorityStart...].firstIndex { $0 == 0x2F || $0 == 0x3F || $0 == 0x23 } ?? bytes.endIndex
        let authority = bytes[authorityStart..<authorityEnd]
        guard !authority.isEmpty, !authority.contains(0x40), isHostValue(authority) else {
            throw .badRequest("invalid authority in the request target")
        }
        var rest = Array(bytes[authorityEnd...])
        if rest.first == 0x23 { throw .badRequest("fragment in the request target") }
        if rest.isEmpty || rest.first == 0x3F { rest.insert(0x2F, at: 0) }
        return (String(decoding: rest, as: UTF8.self), String(decoding: authority, as: UTF8.self))
    }

    /// `Host = uri-host [ ":" port ]`, where uri-host is an IP literal in brackets or a reg-name
    /// (an IPv4 address is a reg-name too). The empty value is allowed.
    static func isHostValue(_ value: some Collection<UInt8>) -> Bool {
        // The usual value (a name or an IPv4 address, maybe with a port) is checked without copying.
        if value.allSatisfy({ isUnreserved($0) || $0 == 0x3A }),
            value.firstIndex(of: 0x3A).map({ colon in
                value[value.index(after: colon)...].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            }) ?? true
        {
            return true
        }
        let bytes = Array(value)
        guard !bytes.isEmpty else { return true }
        var index = 0
        if bytes[0] == 0x5B {
            guard let close = bytes.firstIndex(of: 0x5D), close > 1,
                bytes[1..<close].allSatisfy({ isHexDigit($0) || $0 == 0x3A || $0 == 0x2E })
                    || isIPvFuture(bytes[1..<close])
            else { return false }
            index = close + 1
        } else {
            while index < bytes.count && bytes[index] != 0x3A {
                let byte = bytes[index]
                if byte == 0x25 {
                    guard index + 2 < bytes.count, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else {
                        return false
                    }
                    index += 3
                    continue
                }
                guard isUnreserved(byte) || isSubDelimiter(byte) else { return false }
                index += 1
            }
        }
        guard index < bytes.count else { return true }
        guard bytes[index] == 0x3A else { return false }
        return bytes[(index + 1)...].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
    private static func isScheme(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first, isAlpha(first) else { return false }
        return bytes.allSatisfy { isAlpha($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E }
    }

    /// `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`
    private static func isIPvFuture(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.first == 0x76 || bytes.first == 0x56, let dot = bytes.firstIndex(of: 0x2E) else { return false }
        let version = bytes[(bytes.startIndex + 1)..<dot]
        let rest = bytes[(dot + 1)...]
        return !version.isEmpty && version.allSatisfy(isHexDigit) && !rest.isEmpty
            && rest.allSatisfy { isUnreserved($0) || isSubDelimiter($0) || $0 == 0x3A }
    }

    private static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66)
    }

    /// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        isAlpha(byte) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
    }

    /// `sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="`
    private static func isSubDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x3B, 0x3D: true
        default: false
        }
    }
}
