import Codecs
import Foundation
import Testing

/// RFC 3339 UTC timestamps from epoch milliseconds, against known instants and against
/// Foundation's own ISO 8601 formatter over a spread of instants (leap years, centuries,
/// before 1970).
struct RFC3339TimestampTests {
    @Test func knownInstants() {
        #expect(RFC3339Timestamp.format(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339Timestamp.format(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(RFC3339Timestamp.format(milliseconds: 1_796_686_972_313) == "2026-12-07T23:42:52.313Z")
        #expect(RFC3339Timestamp.format(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(RFC3339Timestamp.format(milliseconds: 253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
    }

    @Test func agreesWithFoundationOverManyInstants() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<5000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let milliseconds = Int64(state >> 22) % 8_000_000_000_000 - 2_000_000_000_000
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            #expect(RFC3339Timestamp.format(milliseconds: milliseconds) == formatter.string(from: date))
        }
    }
}
