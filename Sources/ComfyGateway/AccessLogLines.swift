/// The access log's lines written straight to the `LogSink`, byte for byte as the text and
/// journal log handlers would write them for `logger.info(message, metadata: [remote,
/// request_id])` from the Routing module: one line per request without the `LogEvent`, the
/// metadata dictionary and the handler dispatch that swift-log costs per call. JSON lines keep
/// going through swift-log (nil).
enum AccessLogLines {
    /// The writer for the configured format, or nil when the line should go through swift-log.
    static func writer(json: Bool, journal: Bool, label: String, sink: LogSink) -> (
        @Sendable (_ message: String, _ remote: String, _ requestID: String) -> Void
    )? {
        if json { return nil }
        if journal {
            return { message, remote, requestID in
                var line = "<6>info "
                line.reserveCapacity(message.utf8.count + 120)
                line += label
                line += ": "
                line += message
                line += " remote="
                line += remote
                line += " request_id="
                line += requestID
                line += "\n"
                sink.write(line)
            }
        }
        return { message, remote, requestID in
            var line = LocalTimestamp.now()
            line.reserveCapacity(message.utf8.count + 140)
            line += " info "
            line += label
            line += ": remote="
            line += remote
            line += " request_id="
            line += requestID
            line += " [Routing] "
            line += message
            line += "\n"
            sink.write(line)
        }
    }
}
