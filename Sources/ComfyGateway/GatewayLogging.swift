import Core
import FoundationEssentials
import Glibc
import Logging
import Synchronization
import SystemPackage

/// Bootstraps swift-log once, for the whole process: JSON objects (`LOG_FORMAT=json`), lines
/// for the journal when stderr is connected to it (`$JOURNAL_STREAM`: a `<N>` priority prefix
/// and no timestamp, as journald adds its own), or plain text lines, all on stderr. The level
/// is shared by every logger and can change while running (a reload). Only the executable does
/// this; libraries just accept a `Logger`.
enum GatewayLogging {
    private static let level = Atomic<Int>(Self.index(of: .info))

    static func bootstrap(_ configuration: GatewayConfiguration, environment: [String: String]) {
        setLevel(configuration.logLevel)
        let json = configuration.logFormat == .json
        let journal = !json && JournalStream.isStandardError(environment["JOURNAL_STREAM"])
        LoggingSystem.bootstrap { label in
            let handler: any LogHandler =
                if json {
                    JSONLogHandler(label: label)
                } else if journal {
                    JournalLogHandler(label: label)
                } else {
                    StreamLogHandler.standardError(label: label)
                }
            return SharedLevelLogHandler(inner: handler)
        }
    }

    /// Changes the level of every logger (`info`, `debug`, ...).
    static func setLevel(_ name: String) {
        level.store(index(of: Logger.Level(rawValue: name) ?? .info), ordering: .relaxed)
    }

    static var currentLevel: Logger.Level {
        Logger.Level.allCases[level.load(ordering: .relaxed)]
    }

    private static func index(of level: Logger.Level) -> Int {
        Logger.Level.allCases.firstIndex(of: level) ?? 2
    }
}

/// Wraps a handler so that its level is the process-wide one (`GatewayLogging.setLevel`).
struct SharedLevelLogHandler: LogHandler {
    var inner: any LogHandler

    var logLevel: Logger.Level {
        get { GatewayLogging.currentLevel }
        set {}
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        inner.log(event: event)
    }
}

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

/// Writes text to the process's standard error, unbuffered.
enum StandardError {
    static func write(_ text: String) {
        _ = try? FileDescriptor.standardError.writeAll(Array(text.utf8))
    }
}

/// One line per record for journald: `<priority>level label: message key=value ...`, with the
/// syslog priority that journald reads from the prefix (so `journalctl -p warning` works).
struct JournalLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

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

/// Writes each log record as one JSON object per line on stderr
/// (`{"ts", "level", "label", "message", ...metadata}`).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var record: [String: String] = [
            "ts": Date.now.formatted(.iso8601),
            "level": event.level.rawValue,
            "label": label,
            "message": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            record[key] = "\(value)"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let line = try? encoder.encode(record) else { return }
        StandardError.write(String(decoding: line, as: UTF8.self) + "\n")
    }
}

extension String {
    /// One journal entry per record: a newline inside a message would split it in two.
    fileprivate func replacingNewlines() -> String {
        String(map { $0 == "\n" ? " " : $0 })
    }
}
