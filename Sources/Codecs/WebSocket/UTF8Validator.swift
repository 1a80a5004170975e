/// Validates UTF-8 incrementally, byte by byte, so a text message split across frames (or a
/// character split across frames) is checked as it arrives and an invalid byte is reported at
/// once: RFC 6455 section 8.1 asks the endpoint to fail the connection (1007) as soon as it
/// sees invalid data, not at the end of the message.
///
/// Rejects everything RFC 3629 forbids: overlong forms, surrogates (U+D800-U+DFFF), code points
/// past U+10FFFF, stray continuation bytes and truncated sequences.
package struct UTF8Validator: Sendable, Equatable {
    /// Continuation bytes still expected for the current character.
    private var remaining = 0
    /// The allowed range of the next continuation byte (narrower right after some lead bytes).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    package init() {}

    /// True between characters: what was fed so far is complete, valid UTF-8.
    package var isComplete: Bool { remaining == 0 }

    /// Feeds bytes; returns false at the first byte that cannot be valid UTF-8 (the validator is
    /// then in an undefined state and should be discarded).
    package mutating func feed(_ bytes: some Sequence<UInt8>) -> Bool {
        for byte in bytes where !feed(byte) { return false }
        return true
    }

    /// Feeds one byte; returns false if it makes the input invalid.
    package mutating func feed(_ byte: UInt8) -> Bool {
        if remaining > 0 {
            guard byte >= lower && byte <= upper else { return false }
            remaining -= 1
            lower = 0x80
            upper = 0xBF
            return true
        }
        switch byte {
        case 0x00...0x7F:
            return true
        case 0xC2...0xDF:
            remaining = 1
        case 0xE0:
            remaining = 2
            lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF:
            remaining = 2
        case 0xED:
            remaining = 2
            upper = 0x9F
        case 0xF0:
            remaining = 3
            lower = 0x90
        case 0xF1...0xF3:
            remaining = 3
        case 0xF4:
            remaining = 3
            upper = 0x8F
        default:
            return false
        }
        return true
    }
}
