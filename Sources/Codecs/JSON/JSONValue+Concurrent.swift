extension JSONValue {
    /// Documents larger than this are parsed and written on the global executor, so a 30 MB
    /// workflow or queue answer does not stall the event loop and every connection on it.
    package static let offLoopThreshold = 256 * 1024

    /// Parses `bytes`, off the loop when they are large.
    package static func parse(_ bytes: [UInt8]) async throws -> JSONValue {
        if bytes.count <= offLoopThreshold { return try JSONParser.parse(bytes) }
        return try await parseConcurrently(bytes)
    }

    /// Writes the value, off the loop when `sizeHint` (its source's size, when known) or a quick
    /// estimate says it is large.
    package func serialize(sizeHint: Int? = nil) async -> [UInt8] {
        if (sizeHint ?? estimatedSize) <= Self.offLoopThreshold { return JSONWriter.write(self) }
        return await Self.writeConcurrently(self)
    }

    @concurrent
    private static func parseConcurrently(_ bytes: [UInt8]) async throws -> JSONValue {
        try JSONParser.parse(bytes)
    }

    @concurrent
    private static func writeConcurrently(_ value: JSONValue) async -> [UInt8] {
        JSONWriter.write(value)
    }

    /// A cheap lower bound of the written size: stops counting once past the threshold.
    private var estimatedSize: Int {
        var total = 0
        var stack = [self]
        while let value = stack.popLast(), total <= Self.offLoopThreshold {
            switch value {
            case .string(let text): total += text.utf8.count + 2
            case .array(let items):
                total += items.count + 1
                stack.append(contentsOf: items)
            case .object(let members):
                for (key, member) in members {
                    total += key.utf8.count + 4
                    stack.append(member)
                }
            default: total += 8
            }
        }
        return total
    }
}
