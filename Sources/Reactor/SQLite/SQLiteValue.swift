/// A value bound to a statement's parameter or read from a result column.
package enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The integer, or nil for any other kind.
    package var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The text, or nil for any other kind.
    package var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }
}

extension SQLiteValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    package init(stringLiteral value: String) { self = .text(value) }
    package init(integerLiteral value: Int64) { self = .integer(value) }
    package init(nilLiteral: ()) { self = .null }
}

extension Optional where Wrapped == String {
    /// The text, or `.null`.
    package var sqliteValue: SQLiteValue { map(SQLiteValue.text) ?? .null }
}

extension Optional where Wrapped == Int64 {
    /// The integer, or `.null`.
    package var sqliteValue: SQLiteValue { map(SQLiteValue.integer) ?? .null }
}
