import Codecs
import Core
import FoundationEssentials
import Glibc
import Logging
import Synchronization
import SystemPackage

/// Bootstraps swift-log once, for the whole process: JSON objects (`LOG_FORMAT=json`), lines
/// for the journal when stderr is connected to it (`$JOURNAL_STREAM`: a `<N>` priority prefix
/// and no timestamp, as journald adds its own), or plain text lines, all on stderr. The level
/// is shared by every logger and can change while running (a reload). Every handler writes
/// through the batched `LogSink`. Only the executable does this; libraries just accept a `Logger`.
enum GatewayLogging {
    private static let level = Atomic<Int>(Self.index(of: .info))

    /// Sets up swift-log, and returns the access log's direct writer for this format (nil when
    /// access lines go through swift-log too).
    @discardableResult
    static func bootstrap(_ configuration: GatewayConfiguration, environment: [String: String]) -> (
        @Sendable (AccessLine) -> Void
    )? {
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
                    TextLogHandler(label: label, sink: .standardError)
                }
            return SharedLevelLogHandler(inner: handler)
        }
        return AccessLogLines.writer(json: json, journal: journal, label: "comfy-gateway", sink: .standardError)
    }

    /// Changes the level of every logger (`info`, `debug`, ...).
    static func setLevel(_ name: String) {
        level.store(index(of: Logger.Level(rawValue: name) ?? .info), ordering: .relaxed)
    }

    static var currentLevel: Logger.Level {
        levels[level.load(ordering: .relaxed)]
    }

    /// Every level, in order (read on every log call: `allCases` would build the array each time).
    private static let levels = Logger.Level.allCases

    private static func index(of level: Logger.Level) -> Int {
        Logger.Level.allCases.firstIndex(of: level) ?? 2
    }
}

/// Writes text to the process's standard error, in order with the log lines.
enum StandardError {
    static func write(_ text: String) {
        LogSink.standardError.write(text)
    }
}
