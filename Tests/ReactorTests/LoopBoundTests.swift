import Testing

@testable import Reactor

/// `LoopBound`: the value is reachable on its loop, and reaching for it anywhere else stops the
/// process, in release builds too.
struct LoopBoundTests {
    @Test func theValueIsReachableOnItsLoop() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let bound = try await loop.submit { LoopBound([1, 2, 3], loop: loop) }
        #expect(try await loop.submit { bound.value } == [1, 2, 3])
        let seen = Locked<[Int]>([])
        bound.execute { value in seen.withLock { $0 = value } }
        for _ in 0..<200 where seen.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(seen.withLock { $0 } == [1, 2, 3])
    }

    @Test func readingTheValueOffItsLoopTraps() async {
        await #expect(processExitsWith: .failure) {
            let loop = try EventLoop()
            loop.start()
            let bound = try await loop.submit { LoopBound(7, loop: loop) }
            _ = bound.value
        }
    }

    @Test func bindingAValueOffItsLoopTraps() async {
        await #expect(processExitsWith: .failure) {
            let loop = try EventLoop()
            loop.start()
            _ = LoopBound(7, loop: loop)
        }
    }
}
