/// An error SQLite reported: its primary result code, its extended code and its message, with
/// the kinds a caller must tell apart (a corrupt or foreign file, a full disk, a read-only file).
package struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The extended result code (`SQLITE_IOERR_WRITE`, ...); its low byte is the primary code.
    package let code: Int32
    package let message: String

    package init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// SQLite's primary result code (`SQLITE_CORRUPT` is 11, `SQLITE_FULL` 13, ...).
    package var primaryCode: Int32 { code & 0xFF }

    /// The file is not a database, or is damaged.
    package var isCorrupt: Bool { primaryCode == 11 || primaryCode == 26 }

    /// The disk (or the file-size limit) is full.
    package var isFull: Bool { primaryCode == 13 }

    /// The file or its folder cannot be written.
    package var isReadOnly: Bool { primaryCode == 8 }

    package var description: String { "\(message) (SQLite error \(code))" }
}
