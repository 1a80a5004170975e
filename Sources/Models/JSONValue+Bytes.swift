import FoundationEssentials

extension JSONValue {
    /// Parses a JSON document (any value at the top level, as RFC 8259 allows).
    package init(parsing bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// The value as compact JSON, object keys sorted (stable output for tests and caches).
    package func serialized() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a JSONValue cannot fail: every case is a JSON value.
        return (try? Array(encoder.encode(self))) ?? Array("null".utf8)
    }
}
