import FoundationEssentials
import Logging

/// Writes each log record as one JSON object per line on stderr
/// (`{"ts", "level", "label", "message", ...metadata}`).
struct JSONLogHandler: MetadataStoringLogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

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
