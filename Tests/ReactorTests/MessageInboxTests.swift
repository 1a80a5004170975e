import Reactor
import Synchronization
import Testing

/// The inbox between a connection and its application: order, the high- and low-water marks
/// that pause and resume reading, the end, and cancellation.
struct MessageInboxTests {
    /// Counts the pause and resume calls.
    final class Switch: Sendable {
        let calls = Mutex<[String]>([])
        var log: [String] { calls.withLock { $0 } }

        func makeInbox(high: Int = 10, low: Int = 4) -> MessageInbox<String> {
            MessageInbox(
                highWaterMark: high, lowWaterMark: low, size: { $0.utf8.count },
                pause: { self.calls.withLock { $0.append("pause") } },
                resume: { self.calls.withLock { $0.append("resume") } })
        }
    }

    @Test func pausesAboveTheHighMarkAndResumesAtTheLowOne() async {
        let reading = Switch()
        let inbox = reading.makeInbox()
        for word in ["abcd", "efgh", "ij"] { inbox.yield(word) }
        #expect(reading.log.isEmpty, "10 bytes are not above the high-water mark of 10")
        inbox.yield("k")
        inbox.yield("l")
        #expect(reading.log == ["pause"], "paused once, not once per message")
        #expect(inbox.waitingBytes == 12)
        var iterator = inbox.makeAsyncIterator()
        #expect(await iterator.next() == "abcd")
        #expect(reading.log == ["pause"], "8 bytes left is above the low-water mark of 4")
        #expect(await iterator.next() == "efgh")
        #expect(reading.log == ["pause", "resume"])
        inbox.finish()
        inbox.yield("after the end")
        #expect(await iterator.next() == "ij", "what was queued before finish still arrives")
        #expect(await iterator.next() == "k")
        #expect(await iterator.next() == "l")
        #expect(await iterator.next() == nil)
        #expect(await iterator.next() == nil)
    }

    @Test func aWaitingConsumerGetsTheNextMessageDirectly() async {
        let reading = Switch()
        let inbox = reading.makeInbox()
        let consumer = Task {
            var received: [String] = []
            for await message in inbox { received.append(message) }
            return received
        }
        for index in 0..<1000 {
            inbox.yield("m\(index)")
            if index % 100 == 0 { await Task.yield() }
        }
        inbox.finish()
        #expect(await consumer.value == (0..<1000).map { "m\($0)" })
    }

    @Test func cancellingTheConsumerEndsItsIteration() async {
        let inbox = Switch().makeInbox()
        let consumer = Task {
            var count = 0
            for await _ in inbox { count += 1 }
            return count
        }
        inbox.yield("one")
        try? await Task.sleep(for: .milliseconds(20))
        consumer.cancel()
        #expect(await consumer.value <= 1)
    }
}
