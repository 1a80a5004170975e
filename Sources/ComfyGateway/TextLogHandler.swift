import Glibc
import Logging
import Reactor

/// swift-log's plain text line (`2026-12-07T16:03:27+0000 info label: key=value [source] message`),
/// as its `StreamLogHandler` writes it, sent to the batched `LogSink`. The timestamp is formatted
/// once per second, not once per line.
struct TextLogHandler: MetadataStoringLogHandler {
    let label: String
    let sink: LogSink
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    func log(event: LogEvent) {
        var merged = event.metadata ?? [:]
        if !metadata.isEmpty { merged.merge(metadata) { explicit, _ in explicit } }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line = LocalTimestamp.now()
        line.reserveCapacity(200)
        line += " "
        line += event.level.rawValue
        if !label.isEmpty {
            line += " "
            line += label
        }
        line += ":"
        for key in merged.keys.sorted() {
            line += " "
            line += key
            line += "="
            if case .string(let text) = merged[key] { line += text } else { line += "\(merged[key]!)" }
        }
        line += " ["
        line += event.source
        line += "] "
        line += event.message.description
        line += "\n"
        sink.write(line)
    }
}

/// The local time as `%Y-%m-%dT%H:%M:%S%z`, formatted again only when the second changes.
enum LocalTimestamp {
    private static let cache = Locked((second: -1, text: ""))

    static func now() -> String {
        let second = time(nil)
        return cache.withLock { cache in
            if cache.second == second { return cache.text }
            var clock = second
            var local = tm()
            var buffer = [CChar](repeating: 0, count: 64)
            guard localtime_r(&clock, &local) != nil else { return "<unknown>" }
            let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
            cache = (second, String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
            return cache.text
        }
    }
}
