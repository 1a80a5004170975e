import Codecs

/// The access log's lines written straight to the `LogSink`, byte for byte as the text and
/// journal log handlers would write them for `logger.info(message, metadata: [remote,
/// request_id])` from the Routing module: one line per request without the `LogEvent`, the
/// metadata dictionary and the handler dispatch that swift-log costs per call. JSON lines keep
/// going through swift-log (nil).
enum AccessLogLines {
    /// The writer for the configured format, or nil when the line should go through swift-log.
    static func writer(json: Bool, journal: Bool, label: String, sink: LogSink) -> (@Sendable (AccessLine) -> Void)? {
        if json { return nil }
        if journal {
            return { access in
                sink.write { line in
                    line.append(contentsOf: "<6>info ".utf8)
                    line.append(contentsOf: label.utf8)
                    line.append(contentsOf: ": ".utf8)
                    access.appendMessage(to: &line)
                    line.append(0x20)
                    appendPeer(access, to: &line)
                    line.append(0x0A)
                }
            }
        }
        return { access in
            let timestamp = LocalTimestamp.now()
            sink.write { line in
                line.append(contentsOf: timestamp.utf8)
                line.append(contentsOf: " info ".utf8)
                line.append(contentsOf: label.utf8)
                line.append(contentsOf: ": ".utf8)
                appendPeer(access, to: &line)
                line.append(contentsOf: " [Routing] ".utf8)
                access.appendMessage(to: &line)
                line.append(0x0A)
            }
        }
    }

    /// `remote=<peer> request_id=<id>`: the metadata both formats write, in the order the log
    /// handlers sort it.
    private static func appendPeer(_ access: AccessLine, to line: inout [UInt8]) {
        line.append(contentsOf: "remote=".utf8)
        line.append(contentsOf: access.remote.utf8)
        line.append(contentsOf: " request_id=".utf8)
        line.append(contentsOf: access.requestID.utf8)
    }
}
