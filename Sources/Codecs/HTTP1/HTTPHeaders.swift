/// An ordered list of header fields with case-insensitive lookup, as they arrived or will be sent.
package struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// The fields in order; names keep the case they were given.
    package private(set) var fields: [(name: String, value: String)] = []

    package init() {}

    package init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    package init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    package var count: Int { fields.count }

    /// Appends a field (several fields may share a name).
    package mutating func add(name: String, value: String) {
        // Room for a few fields at once: a response's headers grow one by one on the way out
        // (the content type, then the request id), and each growth would be an allocation.
        if fields.capacity == 0 { fields.reserveCapacity(4) }
        fields.append((name: name, value: value))
    }

    /// Replaces every field named `name` with one field.
    package mutating func replaceOrAdd(name: String, value: String) {
        // Fields are only touched when one has the name: adding a field to a shared list (a
        // response made once and sent many times) then copies it once, not twice.
        if fields.contains(where: { Self.namesEqual($0.name, name) }) { remove(name: name) }
        add(name: name, value: value)
    }

    /// Removes every field named `name`.
    package mutating func remove(name: String) {
        fields.removeAll { Self.namesEqual($0.name, name) }
    }

    /// The value of the first field named `name`.
    package subscript(first name: String) -> String? {
        fields.first { Self.namesEqual($0.name, name) }?.value
    }

    /// The values of every field named `name`, in order.
    package subscript(all name: String) -> [String] {
        fields.filter { Self.namesEqual($0.name, name) }.map(\.value)
    }

    /// How many fields are named `name`.
    package func count(of name: String) -> Int {
        var count = 0
        for field in fields where Self.namesEqual(field.name, name) { count += 1 }
        return count
    }

    /// True when `name` is present.
    package func contains(_ name: String) -> Bool {
        fields.contains { Self.namesEqual($0.name, name) }
    }

    /// The comma-separated elements of every field named `name`, trimmed and ASCII-lowercased
    /// (for list-valued fields such as `Connection` and `Transfer-Encoding`). Only A-Z are
    /// folded: Unicode case mapping (the Kelvin sign lowercases to `k`) must never turn a
    /// non-ASCII value into a framing keyword.
    package func tokens(_ name: String) -> [String] {
        guard contains(name) else { return [] }
        return self[all: name].flatMap { value in
            value.split(separator: ",").map { HTTPSyntax.asciiLowercased($0.trimmingWhitespace()) }.filter {
                !$0.isEmpty
            }
        }
    }

    package func makeIterator() -> some IteratorProtocol<(name: String, value: String)> {
        fields.makeIterator()
    }

    package static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    /// ASCII case-insensitive comparison of field names.
    @inlinable
    package static func namesEqual(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.count == rhs.utf8.count
            && zip(lhs.utf8, rhs.utf8).allSatisfy { a, b in
                a == b || (a | 0x20) == (b | 0x20) && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A
            }
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs.
    func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
