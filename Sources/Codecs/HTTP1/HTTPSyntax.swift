/// Character classes of RFC 9110 used by the parsers and validators.
package enum HTTPSyntax {
    /// `tchar`: the characters of a token (method, field name, transfer coding).
    @inlinable
    package static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }

    /// The bytes a field value may hold: VCHAR, SP, HTAB and obs-text; no other control character.
    @inlinable
    package static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    /// The text with A-Z folded to a-z and every other byte left alone.
    package static func asciiLowercased(_ text: Substring) -> String {
        String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// True when `string` is a non-empty token.
    package static func isToken(_ string: some StringProtocol) -> Bool {
        !string.isEmpty && string.utf8.allSatisfy(isTokenByte)
    }
}

/// The chunk-size line of the chunked coding: `chunk-size [ chunk-ext ]` (RFC 9112 section 7.1).
enum ChunkLine {
    /// Returns the chunk size; rejects a missing or overlong size and malformed extensions.
    static func parseSize(_ line: [UInt8]) throws(HTTPParseError) -> Int {
        var index = 0
        var size = 0
        while index < line.count, let digit = hexValue(line[index]) {
            guard index < 15 else { throw .badRequest("chunk size too large") }
            size = size * 16 + digit
            index += 1
        }
        guard index > 0 else { throw .badRequest("invalid chunk size") }
        // Whitespace after the size is only allowed before an extension (BWS ";").
        let rest = line[index...].drop { $0 == 0x20 || $0 == 0x09 }
        if rest.isEmpty && rest.startIndex != index { throw .badRequest("whitespace after the chunk size") }
        try validateExtensions(line[index...])
        return size
    }

    /// `*( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )`
    private static func validateExtensions(_ rest: ArraySlice<UInt8>) throws(HTTPParseError) {
        var index = rest.startIndex
        let end = rest.endIndex
        func skipWhitespace() { while index < end && (rest[index] == 0x20 || rest[index] == 0x09) { index += 1 } }
        func token() -> Bool {
            let start = index
            while index < end && HTTPSyntax.isTokenByte(rest[index]) { index += 1 }
            return index > start
        }
        while true {
            skipWhitespace()
            if index == end { return }
            guard rest[index] == 0x3B else { throw .badRequest("invalid chunk extension") }
            index += 1
            skipWhitespace()
            guard token() else { throw .badRequest("invalid chunk extension name") }
            skipWhitespace()
            guard index < end, rest[index] == 0x3D else { continue }
            index += 1
            skipWhitespace()
            if index < end && rest[index] == 0x22 {
                index += 1
                var closed = false
                while index < end {
                    let byte = rest[index]
                    if byte == 0x22 { closed = true; index += 1; break }
                    if byte == 0x5C {
                        guard index + 1 < end, HTTPSyntax.isFieldValueByte(rest[index + 1]) else {
                            throw .badRequest("invalid quoted pair in a chunk extension")
                        }
                        index += 2
                        continue
                    }
                    guard HTTPSyntax.isFieldValueByte(byte) else { throw .badRequest("invalid chunk extension value") }
                    index += 1
                }
                guard closed, index <= end else { throw .badRequest("unterminated chunk extension value") }
            } else if !token() {
                throw .badRequest("invalid chunk extension value")
            }
        }
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        case 0x61...0x66: Int(byte - 0x61 + 10)
        default: nil
        }
    }
}
