import Codecs
import Logging

/// Logs one line per request at `info`: method, target, status, duration and peer. A `token`
/// query parameter (an API key on the WebSocket route) is written as `token=REDACTED`, and no
/// header is logged, so keys never reach the logs.
///
/// With a `writer`, the line goes straight to it (the message, the peer, the request id) instead
/// of through swift-log: the executable formats it as its log handler would, without a
/// `LogEvent`, a metadata dictionary and an existential handler per request.
package struct AccessLogMiddleware: Middleware {
    /// Writes one access line: `(message, remote address, request id)`.
    package typealias Writer = @Sendable (_ message: String, _ remote: String, _ requestID: String) -> Void

    private let writer: Writer?

    package init(writer: Writer? = nil) {
        self.writer = writer
    }

    package func finish(_ request: Request, context: RequestContext, response: inout Response) {
        guard context.logger.logLevel <= .info else { return }
        let elapsed = ContinuousClock.now - context.receivedAt
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        // Built by appending plain strings: interpolating a non-String value costs a dynamic cast.
        var line = request.method.rawValue
        line.reserveCapacity(line.utf8.count + request.head.target.utf8.count + 24)
        line += " "
        line += Self.redacted(request.head.target)
        line += " "
        line += String(response.status)
        line += " "
        line += String(microseconds / 1000)
        line += "."
        line += String(microseconds % 1000 / 10 + 100).dropFirst()
        line += "ms"
        if let writer {
            writer(line, context.remoteAddress, context.requestID)
            return
        }
        context.logger.info(
            Logger.Message(stringLiteral: line),
            metadata: ["remote": .string(context.remoteAddress), "request_id": .string(context.requestID)])
    }

    /// `target` with the value of every `token` query parameter (however its name is
    /// percent-encoded) replaced by `REDACTED`.
    package static func redacted(_ target: String) -> String {
        guard let question = target.firstIndex(of: "?") else { return target }
        let pairs = target[target.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false)
        let query = pairs.map { pair in
            let name = pair.prefix { $0 != "=" }
            return PercentDecoding.decode(name) == "token" ? name + "=REDACTED" : String(pair)
        }
        return target[..<question] + "?" + query.joined(separator: "&")
    }
}
