import Reactor
import Synchronization
import Testing

@testable import Routing

/// The request body stream: ordering, completion, failure, limits and backpressure signals.
struct RequestBodyTests {
    @Test func chunksArriveInOrderAndEnd() async throws {
        let body = RequestBody(expectedLength: nil)
        body.push([1, 2])
        body.push([3])
        body.finish()
        var collected: [[UInt8]] = []
        for try await chunk in body { collected.append(chunk) }
        #expect(collected == [[1, 2], [3]])
    }

    /// On a loop, as in the server: the body is loop-bound, so the reader (a second task on the
    /// loop, handed the body through `LoopBound`) and the writer take turns on one thread.
    @Test func aWaitingReaderIsResumedByPushAndFinish() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        try await Task(executorPreference: loop) { () async throws in
            let body = RequestBody(expectedLength: nil)
            let bound = LoopBound(body, loop: loop)
            let first = Task(executorPreference: loop) { try await bound.value.next() }
            await Task.yield()
            body.push([9])
            #expect(try await first.value == [9])
            let end = Task(executorPreference: loop) { try await bound.value.next() }
            await Task.yield()
            body.finish()
            #expect(try await end.value == nil)
        }.value
    }

    @Test func aReaderThatKeepsPaceDoesNotMakeTheQueueKeepConsumedChunks() async throws {
        let body = RequestBody(expectedLength: nil, highWaterMark: 1 << 30)
        body.push([0])
        var maxSlots = 0
        for index in 1...10_000 {
            body.push([UInt8(truncatingIfNeeded: index)])
            #expect(try await body.next() == [UInt8(truncatingIfNeeded: index - 1)])
            maxSlots = max(maxSlots, body.retainedChunkSlots)
        }
        #expect(maxSlots <= 130, "the queue kept \(maxSlots) slots for 2 waiting chunks")
    }

    @Test func failureIsThrownToTheReader() async {
        let body = RequestBody(expectedLength: 10)
        body.push([1])
        body.fail(RequestBodyError.incomplete)
        await #expect(throws: RequestBodyError.incomplete) {
            _ = try await body.collect(upTo: 100)
        }
    }

    @Test func collectStopsAtTheLimit() async {
        let announced = RequestBody(expectedLength: 11)
        await #expect(throws: RequestBodyError.tooLarge(limit: 10)) { _ = try await announced.collect(upTo: 10) }
        let streamed = RequestBody(expectedLength: nil)
        streamed.push([UInt8](repeating: 0, count: 6))
        streamed.push([UInt8](repeating: 0, count: 6))
        streamed.finish()
        await #expect(throws: RequestBodyError.tooLarge(limit: 10)) { _ = try await streamed.collect(upTo: 10) }
    }

    @Test func backpressurePausesAboveTheHighWaterMarkAndResumesWhenDrained() async throws {
        let body = RequestBody(expectedLength: nil, highWaterMark: 100)
        let signals = Mutex<[Bool]>([])
        body.onBackpressure = { paused in signals.withLock { $0.append(paused) } }
        for _ in 0..<5 { body.push([UInt8](repeating: 1, count: 30)) }
        #expect(signals.withLock { $0 } == [true])
        for _ in 0..<4 { _ = try await body.next() }
        #expect(signals.withLock { $0 } == [true], "30 bytes left is still above a quarter of the mark")
        _ = try await body.next()
        #expect(signals.withLock { $0 } == [true, false])
    }
}
