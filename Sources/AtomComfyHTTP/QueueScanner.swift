import Models

/// Reads ComfyUI's `GET /queue` answer as it streams in and keeps, of every entry, only what
/// the gateway uses: its number, its prompt id and the client ids in its `extra_data`.
///
/// The answer is `{"queue_running": [entry...], "queue_pending": [entry...]}` with each entry
/// `[number, prompt_id, prompt, extra_data, outputs_to_execute, ...]`. The prompts are whole
/// workflows, tens of MB each at worst: a queue of a few large workflows outgrew any sensible
/// read limit, and then even clearing the queue failed. This scanner never holds more than the
/// small values it keeps (and the bytes of one chunk), so the queue can be read at any size.
///
/// Pure and incremental: `feed` takes bytes as they arrive, split anywhere; `finish` checks that
/// the document ended and returns the entries. Broken structure (unbalanced brackets, a missing
/// separator, a bad string or escape, an entry without number and id, a list missing) throws
/// `QueueScanError`; the scalars it skips are not checked letter by letter.
package struct QueueScanner {
    /// What is kept of one entry.
    package struct Entry: Equatable, Sendable {
        package var number: Double
        package var promptID: String
        /// `extra_data.client_id`.
        package var clientID: String?
        /// `extra_data.gateway_client_id`, the caller's id the gateway records.
        package var gatewayClientID: String?

        package init(number: Double, promptID: String, clientID: String?, gatewayClientID: String?) {
            self.number = number
            self.promptID = promptID
            self.clientID = clientID
            self.gatewayClientID = gatewayClientID
        }
    }

    package init() {}

    /// What the scanner found wrong, with the byte offset.
    package struct QueueScanError: Error, Equatable {
        package let reason: String
        package let offset: Int
    }

    package private(set) var running: [Entry] = []
    package private(set) var pending: [Entry] = []

    /// One open array or object, innermost last.
    private enum Container {
        case array(index: Int)
        case object(key: Key?)
    }

    /// The keys that matter (a key of any other name is `.other`).
    private enum Key: Equatable {
        case queueRunning, queuePending, clientID, gatewayClientID, other
    }

    /// Where the lexer is.
    private enum Lexer {
        case value
        case afterValue
        case key
        case colon
        case string(isKey: Bool, escape: Int)
        case scalar
        case done
    }

    private var lexer = Lexer.value
    private var stack: [Container] = []
    /// The bytes of the string or scalar being read, when it is kept (or is a key).
    private var text: [UInt8] = []
    private var keepText = false
    /// The entry being read, field by field.
    private var number: Double?
    private var promptID: String?
    private var clientID: String?
    private var gatewayClientID: String?
    private var sawRunning = false
    private var sawPending = false
    private var offset = 0

    /// The longest value kept (a prompt id, a client id, a number); keys longer than this are
    /// simply not among the ones that matter.
    private static let maxKeptBytes = 8192
    private static let maxDepth = 512

    package mutating func feed(_ bytes: some Collection<UInt8>) throws(QueueScanError) {
        let bytes = Array(bytes)
        var index = 0
        while index < bytes.count {
            // Most of the answer is the text of workflows, skipped: run to the string's end.
            if case .string(isKey: false, escape: 0) = lexer, !keepText {
                let end =
                    bytes[index...].firstIndex { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 } ?? bytes.count
                offset += end - index
                index = end
                guard index < bytes.count else { break }
            }
            try consume(bytes[index])
            offset += 1
            index += 1
        }
    }

    /// Checks the document is complete and has both lists.
    package func finish() throws(QueueScanError) -> (running: [Entry], pending: [Entry]) {
        guard case .done = lexer else { throw QueueScanError(reason: "the answer ended early", offset: offset) }
        guard sawRunning, sawPending else {
            throw QueueScanError(reason: "queue_running or queue_pending is missing", offset: offset)
        }
        return (running, pending)
    }

    private func fail(_ reason: String) -> QueueScanError {
        QueueScanError(reason: reason, offset: offset)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private mutating func consume(_ byte: UInt8) throws(QueueScanError) {
        switch lexer {
        case .done:
            guard Self.isWhitespace(byte) else { throw fail("bytes after the end of the document") }
        case .value:
            try startValue(byte)
        case .afterValue:
            try afterValue(byte)
        case .key:
            if Self.isWhitespace(byte) { return }
            if byte == 0x7D, case .object(key: nil)? = stack.last {
                try closeContainer()
                return
            }
            guard byte == 0x22 else { throw fail("expected a key") }
            text.removeAll(keepingCapacity: true)
            keepText = true
            lexer = .string(isKey: true, escape: 0)
        case .colon:
            if Self.isWhitespace(byte) { return }
            guard byte == 0x3A else { throw fail("expected ':'") }
            lexer = .value
        case .string(let isKey, let escape):
            try stringByte(byte, isKey: isKey, escape: escape)
        case .scalar:
            if (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x2B
                || byte == 0x2D || byte == 0x2E
            {
                if keepText {
                    if text.count < Self.maxKeptBytes {
                        text.append(byte)
                    } else {
                        keepText = false
                        text.removeAll(keepingCapacity: true)
                    }
                }
                return
            }
            try endScalar()
            try afterValue(byte)
        }
    }

    // MARK: Values

    /// What the value starting now is to the gateway.
    private enum Role {
        case skip, number, promptID, clientID, gatewayClientID
    }

    /// True when the innermost three containers are a queue list's entry (`{"queue_...": [[`).
    private var isInEntry: Bool {
        guard stack.count >= 3, case .object(let list)? = stack.first, list == .queueRunning || list == .queuePending,
            case .array = stack[1], case .array = stack[2]
        else { return false }
        return true
    }

    private var roleOfNextValue: Role {
        guard isInEntry, case .array(let field) = stack[2] else { return .skip }
        if stack.count == 3 {
            switch field {
            case 0: return .number
            case 1: return .promptID
            default: return .skip
            }
        }
        guard stack.count == 4, field == 3, case .object(let key) = stack[3] else { return .skip }
        switch key {
        case .clientID: return .clientID
        case .gatewayClientID: return .gatewayClientID
        default: return .skip
        }
    }

    private mutating func startValue(_ byte: UInt8) throws(QueueScanError) {
        if Self.isWhitespace(byte) { return }
        switch byte {
        case 0x7B:
            try open(.object(key: nil))
            lexer = .key
        case 0x5B:
            try open(.array(index: 0))
            if stack.count == 3 && isInEntry { resetEntry() }
            lexer = .value
        case 0x5D:
            // `[]`: an empty array closes where its first value would start.
            guard case .array(index: 0)? = stack.last else { throw fail("unexpected ']'") }
            try closeContainer()
        case 0x22:
            text.removeAll(keepingCapacity: true)
            keepText = roleOfNextValue != .skip
            lexer = .string(isKey: false, escape: 0)
        default:
            guard (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x74 || byte == 0x66 || byte == 0x6E
            else { throw fail("unexpected byte \(byte)") }
            text.removeAll(keepingCapacity: true)
            keepText = roleOfNextValue != .skip
            if keepText { text.append(byte) }
            lexer = .scalar
        }
    }

    private mutating func open(_ container: Container) throws(QueueScanError) {
        guard stack.count < Self.maxDepth else { throw fail("nested too deep") }
        if stack.isEmpty, case .array = container { throw fail("the answer is not an object") }
        stack.append(container)
    }

    private mutating func afterValue(_ byte: UInt8) throws(QueueScanError) {
        if Self.isWhitespace(byte) { return }
        switch (byte, stack.last) {
        case (0x2C, .array(let index)?):
            stack[stack.count - 1] = .array(index: index + 1)
            lexer = .value
        case (0x2C, .object?):
            stack[stack.count - 1] = .object(key: nil)
            lexer = .key
        case (0x5D, .array?), (0x7D, .object?):
            try closeContainer()
        default:
            throw fail("expected ',' or the end of a list or object")
        }
    }

    private mutating func closeContainer() throws(QueueScanError) {
        let depth = stack.count
        if depth == 3 && isInEntry {
            guard let number, let promptID else { throw fail("a queue entry without number and prompt id") }
            let entry = Entry(
                number: number, promptID: promptID, clientID: clientID, gatewayClientID: gatewayClientID)
            if case .object(.queueRunning)? = stack.first { running.append(entry) } else { pending.append(entry) }
        }
        if depth == 2, case .array? = stack.last, case .object(let list)? = stack.first {
            if list == .queueRunning { sawRunning = true }
            if list == .queuePending { sawPending = true }
        }
        stack.removeLast()
        lexer = stack.isEmpty ? .done : .afterValue
    }

    private mutating func resetEntry() {
        number = nil
        promptID = nil
        clientID = nil
        gatewayClientID = nil
    }

    // MARK: Strings and scalars

    private mutating func stringByte(_ byte: UInt8, isKey: Bool, escape: Int) throws(QueueScanError) {
        // `escape`: 0 outside an escape, 1 right after a backslash, 2...5 inside \uXXXX (kept
        // as text and decoded at the end).
        if escape == 1 {
            guard [0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74, 0x75].contains(byte) else {
                throw fail("invalid escape")
            }
            try keep(byte)
            lexer = .string(isKey: isKey, escape: byte == 0x75 ? 2 : 0)
            return
        }
        if escape >= 2 {
            guard (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66) else {
                throw fail("invalid \\u escape")
            }
            try keep(byte)
            lexer = .string(isKey: isKey, escape: escape == 5 ? 0 : escape + 1)
            return
        }
        switch byte {
        case 0x22:
            try endString(isKey: isKey)
        case 0x5C:
            try keep(byte)
            lexer = .string(isKey: isKey, escape: 1)
        case 0..<0x20:
            throw fail("control character in a string")
        default:
            try keep(byte)
        }
    }

    private mutating func keep(_ byte: UInt8) throws(QueueScanError) {
        guard keepText else { return }
        guard text.count < Self.maxKeptBytes else {
            // A key this long is none of the ones that matter, and a value this long (a client id
            // of escaped characters) is left out rather than failing the whole queue: an entry
            // without its id is then refused, one without its client id is kept without it.
            keepText = false
            text.removeAll(keepingCapacity: true)
            return
        }
        text.append(byte)
    }

    private mutating func endString(isKey: Bool) throws(QueueScanError) {
        if isKey {
            var key = Key.other
            if keepText {
                switch Self.unescaped(text) {
                case "queue_running" where stack.count == 1: key = .queueRunning
                case "queue_pending" where stack.count == 1: key = .queuePending
                case "client_id": key = .clientID
                case WorkflowSubmitRequest.clientIDKey: key = .gatewayClientID
                default: break
                }
            }
            stack[stack.count - 1] = .object(key: key)
            lexer = .colon
            return
        }
        if keepText {
            let value = Self.unescaped(text)
            switch roleOfNextValue {
            case .promptID: promptID = value
            case .clientID: clientID = value
            case .gatewayClientID: gatewayClientID = value
            case .number, .skip: throw fail("a string where a number belongs")
            }
        }
        lexer = .afterValue
    }

    private mutating func endScalar() throws(QueueScanError) {
        guard keepText else { return }
        let literal = String(decoding: text, as: UTF8.self)
        switch roleOfNextValue {
        case .number:
            guard let value = Double(literal) else { throw fail("the entry number is not a number") }
            number = value
        case .promptID:
            // ComfyUI's ids are strings; a number is accepted as its digits.
            guard Int64(literal) != nil else { throw fail("the prompt id is neither a string nor an integer") }
            promptID = literal
        case .clientID, .gatewayClientID, .skip:
            break
        }
    }

    /// The string's text with its JSON escapes decoded (a lone surrogate becomes U+FFFD).
    private static func unescaped(_ bytes: [UInt8]) -> String {
        guard bytes.contains(0x5C) else { return String(decoding: bytes, as: UTF8.self) }
        var units: [UInt16] = []
        var scalars = String.UnicodeScalarView()
        func flushUnits() {
            guard !units.isEmpty else { return }
            scalars.append(contentsOf: String(decoding: units, as: UTF16.self).unicodeScalars)
            units.removeAll()
        }
        var plain: [UInt8] = []
        func flushPlain() {
            guard !plain.isEmpty else { return }
            scalars.append(contentsOf: String(decoding: plain, as: UTF8.self).unicodeScalars)
            plain.removeAll()
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x5C, index + 1 < bytes.count else {
                flushUnits()
                plain.append(byte)
                index += 1
                continue
            }
            let code = bytes[index + 1]
            if code == 0x75, index + 5 < bytes.count,
                let unit = UInt16(String(decoding: bytes[(index + 2)...(index + 5)], as: UTF8.self), radix: 16)
            {
                flushPlain()
                units.append(unit)
                index += 6
                continue
            }
            flushUnits()
            let mapped: UInt8 =
                switch code {
                case 0x62: 0x08
                case 0x66: 0x0C
                case 0x6E: 0x0A
                case 0x72: 0x0D
                case 0x74: 0x09
                default: code
                }
            plain.append(mapped)
            index += 2
        }
        flushUnits()
        flushPlain()
        return String(scalars)
    }
}
