import Glibc
import Logging

/// Whether stderr is the journal stream systemd named in `$JOURNAL_STREAM` (`device:inode`).
enum JournalStream {
    static func isStandardError(_ value: String?) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}

/// One line per record for journald: `<priority>level label: message key=value ...`, with the
/// syslog priority that journald reads from the prefix (so `journalctl -p warning` works).
struct JournalLogHandler: MetadataStoringLogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    func log(event: LogEvent) {
        let priority =
            switch event.level {
            case .trace, .debug: 7
            case .info: 6
            case .notice: 5
            case .warning: 4
            case .error: 3
            case .critical: 2
            }
        var line = "<\(priority)>\(event.level) \(label): \(event.message)"
        let merged = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 })
        for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
        StandardError.write(line.replacingNewlines() + "\n")
    }
}

extension String {
    /// One journal entry per record: a newline inside a message would split it in two.
    fileprivate func replacingNewlines() -> String {
        String(map { $0 == "\n" ? " " : $0 })
    }
}
