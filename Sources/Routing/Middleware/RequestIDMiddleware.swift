import Codecs
import Logging

/// Echoes a sane `X-Request-Id` from the client (1-128 characters of `A-Z a-z 0-9 - _ . :`) or
/// keeps the generated one, puts it in the logger's metadata, and sets it on the response.
package struct RequestIDMiddleware: Middleware {
    package init() {}

    package func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
        var context = context
        if let sent = request.headers[first: "X-Request-Id"], Self.isSane(sent) {
            context.requestID = sent
        }
        context.logger[metadataKey: "request_id"] = "\(context.requestID)"
        var response = try await next(request, context)
        response.headers.replaceOrAdd(name: "X-Request-Id", value: context.requestID)
        return response
    }

    /// True for ids safe to echo into a header and a log line.
    package static func isSane(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                switch byte {
                case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x5F, 0x2E, 0x3A: true
                default: false
                }
            }
    }
}

/// Generates request ids: 16 random bytes as 32 hex digits.
package enum RequestIDGenerator {
    package static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
