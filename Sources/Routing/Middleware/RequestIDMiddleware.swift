import Codecs
import Logging
import Synchronization

/// Echoes a sane `X-Request-Id` from the client (1-128 characters of `A-Z a-z 0-9 - _ . :`) or
/// keeps the generated one, and sets it on the response. (Log lines about a request add the id as
/// metadata when they are written; copying it into the logger for every request would cost an
/// allocation per request for lines that are mostly never written.)
package struct RequestIDMiddleware: Middleware {
    package init() {}

    package func prepare(_ request: Request, context: inout RequestContext) -> Response? {
        if let sent = request.headers[first: "X-Request-Id"], Self.isSane(sent) {
            context.requestID = sent
        }
        return nil
    }

    package func finish(_ request: Request, context: RequestContext, response: inout Response) {
        response.headers.replaceOrAdd(name: "X-Request-Id", value: context.requestID)
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

/// Generates request ids: 32 hex digits, unique within the process and unpredictable across
/// processes. A random 64-bit prefix is drawn once; each id adds a counter passed through the
/// SplitMix64 bijection, so ids never repeat and no system call is made per request.
package enum RequestIDGenerator {
    private static let prefix: [UInt8] = hexDigits(UInt64.random(in: .min ... .max))
    private static let counter = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    package static func make() -> String {
        let (value, _) = counter.wrappingAdd(1, ordering: .relaxed)
        let mixed = mix(value)
        var digits = prefix
        digits.reserveCapacity(32)
        for index in 0..<16 { digits.append(hexDigit(of: mixed, at: index)) }
        return String(decoding: digits, as: UTF8.self)
    }

    private static func hexDigits(_ value: UInt64) -> [UInt8] {
        (0..<16).map { hexDigit(of: value, at: $0) }
    }

    /// The `index`th hex digit of `value`, most significant first.
    private static func hexDigit(of value: UInt64, at index: Int) -> UInt8 {
        let nibble = UInt8(truncatingIfNeeded: value >> (60 - 4 * UInt64(index))) & 0x0F
        return nibble < 10 ? 0x30 + nibble : 0x57 + nibble
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
