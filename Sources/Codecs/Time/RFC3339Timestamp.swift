/// Timestamps as the API writes them: RFC 3339 in UTC with milliseconds
/// (`2026-12-07T23:29:41.123Z`), from milliseconds since the Unix epoch. Pure; no calendar
/// library, no locale.
package enum RFC3339Timestamp {
    /// The RFC 3339 UTC text of `milliseconds` since 1970-01-01T00:00:00Z (years 0000-9999).
    package static func format(milliseconds: Int64) -> String {
        let (days, dayMilliseconds) = floorDivision(milliseconds, 86_400_000)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let seconds = dayMilliseconds / 1000
        var text = ""
        text.reserveCapacity(24)
        append(year, width: 4, to: &text)
        text += "-"
        append(month, width: 2, to: &text)
        text += "-"
        append(day, width: 2, to: &text)
        text += "T"
        append(seconds / 3600, width: 2, to: &text)
        text += ":"
        append(seconds / 60 % 60, width: 2, to: &text)
        text += ":"
        append(seconds % 60, width: 2, to: &text)
        text += "."
        append(dayMilliseconds % 1000, width: 3, to: &text)
        text += "Z"
        return text
    }

    /// Year, month (1-12) and day (1-31) of the day `days` after 1970-01-01 (proleptic
    /// Gregorian; Howard Hinnant's `civil_from_days`).
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let (era, _) = floorDivision(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value / divisor
        let remainder = value % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    private static func append(_ value: Int64, width: Int, to text: inout String) {
        let digits = String(max(0, value))
        if digits.count < width { text += String(repeating: "0", count: width - digits.count) }
        text += digits
    }
}
