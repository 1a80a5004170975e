import Foundation
import Reactor
import Synchronization
import Testing

/// The loop as an executor: where jobs run, cross-thread wake-ups, and a clean stop.
struct EventLoopTests {
    actor LoopBoundCounter {
        let loop: EventLoop
        var value = 0
        nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
        init(loop: EventLoop) { self.loop = loop }
        func increment() -> Bool {
            value += 1
            return loop.inLoop
        }
    }

    @Test func tasksPreferringTheLoopRunOnItsThread() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let onLoop = await Task(executorPreference: loop) { loop.inLoop }.value
        #expect(onLoop)
        #expect(!loop.inLoop)
        let afterAwait = await Task(executorPreference: loop) { () async -> Bool in
            await loop.sleep(milliseconds: 1)
            return loop.inLoop
        }.value
        #expect(afterAwait)
    }

    @Test func actorPinnedToTheLoopRunsThere() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let counter = LoopBoundCounter(loop: loop)
        var allOnLoop = true
        for _ in 0..<100 { allOnLoop = await counter.increment() && allOnLoop }
        #expect(allOnLoop)
        #expect(await counter.value == 100)
    }

    @Test func jobsFromManyThreadsAllRunExactlyOnce() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let counter = LoopBoundCounter(loop: loop)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<2000 {
                group.addTask { _ = await counter.increment() }
            }
        }
        #expect(await counter.value == 2000)
    }

    @Test func submitReturnsValuesAndErrors() async throws {
        struct Boom: Error {}
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        #expect(try await loop.submit { 41 + 1 } == 42)
        await #expect(throws: Boom.self) { try await loop.submit { throw Boom() } }
    }

    @Test func loopStopsCleanlyWithNoLiveHandles() async throws {
        let loop = try EventLoop()
        loop.start()
        let live = try await loop.submit { () -> Int in
            let timer = LoopTimer(loop: loop)
            timer.start(afterMilliseconds: 60_000) {}
            return loop.liveHandleCount
        }
        #expect(live == 1)
        loop.shutdown()
        #expect(loop.closeStatus == 0)
    }

    @Test func aJobEnqueuedAfterTheLoopClosedIsCountedNotLostSilently() async throws {
        let loop = try EventLoop()
        loop.start()
        loop.shutdown()
        #expect(loop.lateJobCount == 0)
        // The task's job reaches a closed loop: it cannot run, and the loop says so.
        _ = Task(executorPreference: loop) { Issue.record("a job ran on a closed loop") }
        for _ in 0..<200 where loop.lateJobCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(loop.lateJobCount == 1)
    }

    @Test func submittingToAClosedLoopThrowsInsteadOfWaitingForever() async throws {
        let loop = try EventLoop()
        loop.start()
        #expect(try await loop.submit { 7 } == 7)
        loop.shutdown()
        #expect(loop.isClosedToJobs)
        await #expect(throws: UVError.loopClosed) { _ = try await loop.submit { 7 } }
        #expect(loop.lateJobCount == 0, "the submit never enqueued a job")
    }

    @Test func durationsBecomeWholeMillisecondsRoundedUp() {
        #expect(LoopTimer.milliseconds(.seconds(2)) == 2000)
        #expect(LoopTimer.milliseconds(.microseconds(1500)) == 2)
        #expect(LoopTimer.milliseconds(.nanoseconds(1)) == 1)
        #expect(LoopTimer.milliseconds(.zero) == 1)
        #expect(LoopTimer.milliseconds(.milliseconds(-5)) == 1)
        #expect(LoopTimer.milliseconds(.seconds(Int64.max)) == UInt64(Int64.max))
    }

    @Test func timersFireOnceOrRepeatedly() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let fired = Mutex((once: 0, repeated: 0, stopped: 0))
        try await loop.submit {
            let once = LoopTimer(loop: loop)
            once.start(afterMilliseconds: 1) { fired.withLock { $0.once += 1 } }
            let repeated = LoopTimer(loop: loop)
            repeated.start(afterMilliseconds: 1, repeatEvery: 2) {
                let count = fired.withLock { state -> Int in
                    state.repeated += 1
                    return state.repeated
                }
                if count == 5 { repeated.close() }
            }
            let stopped = LoopTimer(loop: loop)
            stopped.start(afterMilliseconds: 5) { fired.withLock { $0.stopped += 1 } }
            stopped.stop()
        }
        await loop.sleep(milliseconds: 200)
        let result = fired.withLock { $0 }
        #expect(result.once == 1)
        #expect(result.repeated == 5)
        #expect(result.stopped == 0)
    }

    @Test func signalWatcherSeesTheSignal() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let received = Mutex<Int32?>(nil)
        try await loop.submit {
            _ = try SignalWatcher(loop: loop, signal: SIGUSR1) { number in received.withLock { $0 = number } }
        }
        kill(getpid(), SIGUSR1)
        for _ in 0..<200 where received.withLock({ $0 }) == nil { await loop.sleep(milliseconds: 5) }
        #expect(received.withLock { $0 } == SIGUSR1)
    }
}
