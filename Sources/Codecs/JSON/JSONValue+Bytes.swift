extension JSONValue {
    /// Parses a JSON document (any value at the top level, as RFC 8259 allows).
    package init(parsing bytes: [UInt8]) throws {
        self = try JSONParser.parse(bytes)
    }

    /// The value as compact JSON, object keys sorted (stable output for tests and caches).
    package func serialized() -> [UInt8] {
        JSONWriter.write(self)
    }
}
