import AtomComfyHTTP
import Testing

/// The streaming `/queue` scanner: the same entries whatever the split, escapes decoded, the
/// workflow skipped at any size, and broken answers refused.
struct QueueScannerTests {
    typealias Entry = QueueScanner.Entry

    static let answer = #"""
        {"queue_running": [[0, "run-1", {"1": {"class_type": "X", "inputs": {"s": "a\"]}[,"}}},
          {"client_id": "sock", "gateway_client_id": "app\u00e9\n"}, ["1"], {}, []]],
         "queue_pending": [[2.0, "p-2", {}, {"client_id": "c2"}, []], [1, 17, {"nested": [[[]], {}]}, {}, ["9"]]],
         "other": [[1, 2], {"queue_running": 3}]}
        """#

    static let expected = (
        running: [Entry(number: 0, promptID: "run-1", clientID: "sock", gatewayClientID: "app\u{e9}\n")],
        pending: [
            Entry(number: 2, promptID: "p-2", clientID: "c2", gatewayClientID: nil),
            Entry(number: 1, promptID: "17", clientID: nil, gatewayClientID: nil),
        ]
    )

    static func scan(_ bytes: [UInt8], splits: [Int]) throws -> (running: [Entry], pending: [Entry]) {
        var scanner = QueueScanner()
        var start = 0
        for end in splits + [bytes.count] where end >= start {
            try scanner.feed(bytes[start..<end])
            start = end
        }
        return try scanner.finish()
    }

    @Test func entriesAreTheSameWhateverTheSplit() throws {
        let bytes = Array(Self.answer.utf8)
        for split in [[]] + (1..<bytes.count).map({ [$0] }) + [Array(0..<bytes.count)] {
            let lists = try Self.scan(bytes, splits: split)
            #expect(lists.running == Self.expected.running, "split \(split.prefix(3))")
            #expect(lists.pending == Self.expected.pending, "split \(split.prefix(3))")
        }
    }

    @Test func aHugeWorkflowIsSkippedWithoutBeingKept() throws {
        let workflow = #"{"1": {"inputs": {"text": ""# + String(repeating: "x", count: 5_000_000) + #""}}}"#
        let bytes =
            Array(#"{"queue_running": [], "queue_pending": [[3, "big", "#.utf8) + Array(workflow.utf8)
            + Array(#", {}, []]]}"#.utf8)
        var scanner = QueueScanner()
        var index = 0
        while index < bytes.count {
            try scanner.feed(bytes[index..<min(index + 65536, bytes.count)])
            index += 65536
        }
        #expect(try scanner.finish().pending.map(\.promptID) == ["big"])
    }

    @Test func aVeryLongClientIDIsLeftOutNotFatal() throws {
        let escaped = String(repeating: #"\u0001"#, count: 256)
        let huge = String(repeating: "c", count: 10_000)
        let text =
            #"{"queue_running": [], "queue_pending": [[1, "a", {}, {"client_id": "\#(escaped)"}, []], "#
            + #"[2, "b", {}, {"client_id": "\#(huge)"}, []]]}"#
        let lists = try Self.scan(Array(text.utf8), splits: [])
        #expect(lists.pending.map(\.promptID) == ["a", "b"])
        #expect(lists.pending[0].clientID == String(repeating: "\u{1}", count: 256))
        #expect(lists.pending[1].clientID == nil, "over the kept length: left out")
    }

    @Test func anEmptyQueueHasNoEntries() throws {
        let lists = try Self.scan(Array(#" {"queue_running":[],"queue_pending":[]} "#.utf8), splits: [])
        #expect(lists.running.isEmpty && lists.pending.isEmpty)
    }

    @Test(arguments: [
        #"{"queue_running": [], "queue_pending": []"#,
        #"{"queue_running": []}"#,
        #"{"queue_running": [[0, "a", {}, {}, []]], "queue_pending": [[1]]}"#,
        #"{"queue_running": [[0 "a"]], "queue_pending": []}"#,
        #"{"queue_running": [], "queue_pending": []]"#,
        #"{"queue_running": [["0", "a"]], "queue_pending": []}"#,
        #"{"queue_running": [[0, "a\q"]], "queue_pending": []}"#,
        #"{"queue_running": [], "queue_pending": []} x"#,
        "[]",
        "{\"queue_running\": [[0, \"a\u{1}\"]], \"queue_pending\": []}",
    ])
    func brokenAnswersAreRefused(text: String) {
        #expect(throws: QueueScanner.QueueScanError.self) { try Self.scan(Array(text.utf8), splits: []) }
    }
}
