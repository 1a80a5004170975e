import Codecs

/// Feeds a decoder the same bytes in different splits and collects what it returns, with
/// consecutive body parts merged (how a body is cut into parts depends on the split).
enum DecoderHarness {
    struct Outcome: Equatable, CustomStringConvertible {
        var parts: [HTTPRequestDecoder.Part]
        var error: HTTPParseError?

        var description: String { "parts: \(parts), error: \(String(describing: error))" }
    }

    static func decodeRequest(_ bytes: [UInt8], splits: [Int], limits: HTTPLimits = HTTPLimits()) -> Outcome {
        var decoder = HTTPRequestDecoder(limits: limits)
        var outcome = Outcome(parts: [], error: nil)
        var start = 0
        for end in splits + [bytes.count] where end >= start {
            decoder.append(Array(bytes[start..<end]))
            start = end
            do {
                while let part = try decoder.next() { append(part, to: &outcome.parts) }
            } catch {
                outcome.error = error
                return outcome
            }
        }
        return outcome
    }

    private static func append(_ part: HTTPRequestDecoder.Part, to parts: inout [HTTPRequestDecoder.Part]) {
        if case .body(let more) = part, case .body(let earlier)? = parts.last {
            parts[parts.count - 1] = .body(earlier + more)
        } else if case .body(let bytes) = part, bytes.isEmpty {
            return
        } else {
            parts.append(part)
        }
    }

    /// Every way the vectors are fed: whole, byte by byte, and split once at every index.
    static func feedings(count: Int) -> [[Int]] {
        var result: [[Int]] = [[], Array(0..<count)]
        for index in 1..<max(count, 1) { result.append([index]) }
        return result
    }
}
