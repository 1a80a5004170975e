package import Codecs

/// A request as handlers see it: the decoded head, path parameters filled in by the router, and
/// the body as a stream. Not `Sendable`: its body is read on the loop that receives it.
package struct Request {
    package var head: HTTPRequestHead
    package var body: RequestBody

    package init(head: HTTPRequestHead, body: RequestBody = .complete()) {
        self.head = head
        self.body = body
    }

    package var method: HTTPMethod { head.method }
    package var headers: HTTPHeaders { head.headers }
    /// The path, without the query.
    package var path: Substring { head.path }

    /// The decoded query parameters (`a=1&b=x%20y`); the last value of a repeated name wins.
    package var queryParameters: [String: String] {
        guard let query = head.query else { return [:] }
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0]) else { continue }
            result[name] = parts.count > 1 ? PercentDecoding.decode(parts[1]) ?? "" : ""
        }
        return result
    }
}

/// `application/x-www-form-urlencoded` decoding of query components.
package enum PercentDecoding {
    /// Decodes `%XX` escapes and `+` as space; nil when an escape is malformed or the result is
    /// not UTF-8.
    package static func decode(_ component: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(component.utf8.count)
        var iterator = component.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case 0x2B: bytes.append(0x20)
            case 0x25:
                guard let high = iterator.next().flatMap(hex), let low = iterator.next().flatMap(hex) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

extension Request {
    /// The first value of the header `name` (case-insensitive), for modules that do not import Codecs.
    package func header(_ name: String) -> String? {
        headers[first: name]
    }

    /// The method's name (`GET`).
    package var methodName: String { head.method.rawValue }
}
