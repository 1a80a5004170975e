package import Codecs
import Logging

/// Logs one line per request at `info`: method, target, status, duration and peer. A `token`
/// query parameter (an API key on the WebSocket route) is written as `token=REDACTED`, and no
/// header is logged, so keys never reach the logs.
///
/// With a `writer`, the line goes straight to it (an `AccessLine`, appended as bytes) instead
/// of through swift-log: the executable formats it as its log handler would, without a
/// `LogEvent`, a metadata dictionary and an existential handler per request.
package struct AccessLogMiddleware: Middleware {
    /// Writes one access line.
    package typealias Writer = @Sendable (AccessLine) -> Void

    private let writer: Writer?

    package init(writer: Writer? = nil) {
        self.writer = writer
    }

    package func finish(_ request: Request, context: RequestContext, response: inout Response) {
        guard context.logger.logLevel <= .info else { return }
        let elapsed = ContinuousClock.now - context.receivedAt
        let line = AccessLine(
            method: request.method.rawValue, target: Self.redacted(request.head.target), status: response.status,
            microseconds: elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000,
            remote: context.remoteAddress, requestID: context.requestID)
        if let writer {
            writer(line)
            return
        }
        context.logger.info(
            Logger.Message(stringLiteral: line.message),
            metadata: ["remote": .string(line.remote), "request_id": .string(line.requestID)])
    }

    /// `target` with the value of every `token` query parameter (however its name is
    /// percent-encoded) replaced by `REDACTED`.
    package static func redacted(_ target: String) -> String {
        guard let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target }
        let pairs = target[target.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false)
        let query = pairs.map { pair in
            let name = pair.prefix { $0 != "=" }
            return PercentDecoding.decode(name) == "token" ? name + "=REDACTED" : String(pair)
        }
        return target[..<question] + "?" + query.joined(separator: "&")
    }
}
