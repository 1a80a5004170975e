import Core
import FoundationEssentials
import Logging
import SystemPackage

/// Bootstraps swift-log once, for the whole process: text lines or JSON objects on stderr, at the
/// configured level. Only the executable does this; libraries just accept a `Logger`.
enum GatewayLogging {
    static func bootstrap(_ configuration: GatewayConfiguration) {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let json = configuration.logFormat == .json
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes text to the process's standard error, unbuffered.
enum StandardError {
    static func write(_ text: String) {
        _ = try? FileDescriptor.standardError.writeAll(Array(text.utf8))
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
