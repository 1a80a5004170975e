import Foundation
import LoopbackTestSupport
import Reactor
import Synchronization
import Testing

/// TCP over real loopback sockets: accept, echo, backpressure, half-close, close ordering.
struct TCPTests {
    /// A server-side delegate that echoes, or records, what it reads.
    final class Peer: TCPConnectionDelegate, @unchecked Sendable {
        enum Mode { case echo, record }
        let mode: Mode
        var received: [UInt8] = []
        var events: [String] = []
        var sawEOF = false
        var closeError: UVError?
        init(mode: Mode) { self.mode = mode }

        func connection(_ connection: TCPConnection, didRead bytes: [UInt8]) {
            received += bytes
            if mode == .echo { connection.write(bytes) }
        }
        func connectionDidReadEOF(_ connection: TCPConnection) {
            sawEOF = true
            events.append("eof")
            if mode == .echo { connection.closeGracefully() }
        }
        func connectionDidBecomeWritable(_ connection: TCPConnection) { events.append("writable") }
        func connection(_ connection: TCPConnection, didCloseWith error: UVError?) {
            events.append("closed")
            closeError = error
        }
    }

    /// The accepted connections with their peers.
    final class Accepted: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(TCPConnection, Peer)] = []
        func withLock<T>(_ body: (inout [(TCPConnection, Peer)]) -> T) -> T {
            lock.lock()
            defer { lock.unlock() }
            return body(&items)
        }
    }

    /// Lines appended from the loop and read by the test.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        var lines: [String] {
            lock.lock()
            defer { lock.unlock() }
            return stored
        }
        func append(_ line: String) {
            lock.lock()
            defer { lock.unlock() }
            stored.append(line)
        }
    }

    /// Starts a loop and a listener whose connections get a new `Peer`.
    func listen(_ mode: Peer.Mode) async throws -> (EventLoop, Int, Accepted) {
        let loop = try EventLoop()
        loop.start()
        let accepted = Accepted()
        let port = try await loop.submit {
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { connection in
                let peer = Peer(mode: mode)
                connection.delegate = peer
                connection.startReading()
                accepted.withLock { $0.append((connection, peer)) }
            }
            return listener.localPort
        }
        return (loop, port, accepted)
    }

    /// Waits until the listener has accepted a connection and its peer has read something.
    static func waitForAccept(_ accepted: Accepted, loop: EventLoop) async throws {
        for _ in 0..<1000 {
            if try await loop.submit({ accepted.withLock { !($0.first?.1.received.isEmpty ?? true) } }) { return }
            await loop.sleep(milliseconds: 2)
        }
    }

    @Test func echoesAMegabyte() async throws {
        let (loop, port, _) = try await listen(.echo)
        defer { loop.shutdown() }
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        let payload = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await client.send(payload)
        let echoed = try await client.receive(timeout: .seconds(10)) { $0.count >= payload.count }
        #expect(echoed == payload)
    }

    @Test func listensOnIPv6Loopback() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let port = try await loop.submit {
            try TCPListener(loop: loop, host: "::1", port: 0) { connection in
                connection.write(Array("hi".utf8))
                connection.closeGracefully()
            }.localPort
        }
        let client = try await LoopbackClient.connect(loop: loop, port: port, host: "::1")
        #expect(try await client.receive { $0.count >= 2 } == Array("hi".utf8))
    }

    @Test func connectingToAClosedPortFails() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let port = try await loop.submit { () -> Int in
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
            let port = listener.localPort
            listener.stopAccepting()
            return port
        }
        await loop.sleep(milliseconds: 5)
        await #expect(throws: UVError.self) {
            _ = try await TCPConnector.connect(loop: loop, host: "127.0.0.1", port: port, timeoutMilliseconds: 2000)
        }
    }

    @Test func connectorResolvesHostNames() async throws {
        let (loop, port, _) = try await listen(.echo)
        defer { loop.shutdown() }
        let client = try await LoopbackClient.connect(loop: loop, port: port, host: "localhost")
        try await client.send("ping")
        #expect(try await client.receive { $0.count >= 4 } == Array("ping".utf8))
    }

    @Test func halfCloseDeliversEOFAndTheReplyStillArrives() async throws {
        let (loop, port, accepted) = try await listen(.echo)
        defer { loop.shutdown() }
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        try await client.send("last words")
        try await client.shutdownWrite()
        let reply = try await client.receive { $0.count >= 10 }
        #expect(reply == Array("last words".utf8))
        #expect(try await client.waitForClose())
        let events = try await loop.submit { accepted.withLock { $0.first?.1.events ?? [] } }
        #expect(events.first == "eof")
    }

    @Test func aDeadlineTimerLetsTheLoopReadWhatArrivedWhileItWasBusy() async throws {
        let (loop, port, accepted) = try await listen(.record)
        defer { loop.shutdown() }
        let clientLoop = try EventLoop()
        clientLoop.start()
        defer { clientLoop.shutdown() }
        let client = try await LoopbackClient.connect(loop: clientLoop, port: port)
        try await client.send("x")
        try await Self.waitForAccept(accepted, loop: loop)
        let observed = Lines()
        let sent = Lines()
        // Both timers fall due while the loop is blocked, and the blocked job only ends once the
        // client's bytes have been handed to the kernel: when the loop runs again, the bytes are
        // waiting to be read and both timers are due.
        await withCheckedContinuation { (blocked: CheckedContinuation<Void, Never>) in
            loop.execute {
                guard let peer = accepted.withLock({ $0.first?.1 }) else { return }
                let plain = LoopTimer(loop: loop)
                let deadline = LoopTimer(loop: loop)
                plain.start(afterMilliseconds: 20) {
                    observed.append("plain saw \(peer.received.count)")
                }
                deadline.startAfterPendingIO(afterMilliseconds: 20) {
                    observed.append("deadline saw \(peer.received.count)")
                }
                blocked.resume()
                for _ in 0..<500 where sent.lines.isEmpty { usleep(10_000) }
                usleep(50_000)
            }
        }
        try await client.send("late")
        sent.append("sent")
        for _ in 0..<100 where observed.lines.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(observed.lines == ["plain saw 1", "deadline saw 5"])
    }

    @Test func resetSendsAnRSTInsteadOfAFIN() async throws {
        let (loop, port, accepted) = try await listen(.record)
        defer { loop.shutdown() }
        let peer = Peer(mode: .record)
        let bound = try await TCPConnector.connect(
            loop: loop, host: "127.0.0.1", port: port, timeoutMilliseconds: 5000)
        try await loop.submit {
            let client = bound.value
            client.delegate = peer
            client.startReading()
            client.write(Array("x".utf8))
        }
        try await Self.waitForAccept(accepted, loop: loop)
        try await loop.submit { accepted.withLock { $0.first?.0.reset() } }
        for _ in 0..<200 where try await loop.submit({ peer.events.last != "closed" }) {
            await loop.sleep(milliseconds: 5)
        }
        let (events, error) = try await loop.submit { (peer.events, peer.closeError?.name) }
        #expect(events == ["closed"], "no EOF: the connection was reset, not shut down")
        #expect(error == "ECONNRESET")
    }

    @Test func writesBackUpPastTheHighWaterMarkAndDrainWhenThePeerReads() async throws {
        let (loop, port, accepted) = try await listen(.record)
        defer { loop.shutdown() }
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        try await client.send("go")
        try await Self.waitForAccept(accepted, loop: loop)
        let total = 16 * 1024 * 1024
        let peak = try await loop.submit { () -> Int in
            guard let (connection, _) = accepted.withLock({ $0.first }) else { return -1 }
            var peak = 0
            let block = [UInt8](repeating: 7, count: 64 * 1024)
            for _ in 0..<(total / block.count) {
                connection.write(block)
                peak = max(peak, connection.pendingWriteBytes)
            }
            return peak
        }
        #expect(peak > 256 * 1024, "the kernel took everything; backpressure was never exercised")
        let received = try await client.receive(timeout: .seconds(20)) { $0.count >= total }
        #expect(received.count == total)
        let state = try await loop.submit { () -> (Int, [String]) in
            guard let (connection, peer) = accepted.withLock({ $0.first }) else { return (-1, []) }
            return (connection.pendingWriteBytes, peer.events)
        }
        #expect(state.0 == 0)
        #expect(state.1.contains("writable"))
    }

    @Test func waitUntilWritableSuspendsUntilDrainedAndFailsOnClose() async throws {
        let (loop, port, accepted) = try await listen(.record)
        defer { loop.shutdown() }
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        try await client.send("x")
        try await Self.waitForAccept(accepted, loop: loop)
        let outcome = await Task(executorPreference: loop) { () async -> String in
            guard let (connection, _) = accepted.withLock({ $0.first }) else { return "no connection" }
            connection.write([UInt8](repeating: 1, count: 32 * 1024 * 1024))
            let bound = LoopBound(connection, loop: loop)
            let waiter = Task(executorPreference: loop) { () async -> String in
                do {
                    try await bound.value.waitUntilWritable()
                    return "resumed"
                } catch {
                    return "failed"
                }
            }
            await loop.sleep(milliseconds: 20)
            connection.close()
            return await waiter.value
        }.value
        #expect(outcome == "failed")
    }

    @Test func writesAfterTheFirstInAnIterationAreGatheredAndFlushedInOrder() async throws {
        let (loop, port, accepted) = try await listen(.record)
        defer { loop.shutdown() }
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        try await client.send("x")
        try await Self.waitForAccept(accepted, loop: loop)
        let gathered = try await loop.submit { () -> [Int] in
            guard let (connection, _) = accepted.withLock({ $0.first }) else { return [] }
            connection.write(Array("first ".utf8))
            let afterFirst = connection.pendingWriteBytes
            for index in 0..<100 { connection.write(Array("m\(index) ".utf8)) }
            return [afterFirst, connection.pendingWriteBytes]
        }
        #expect(gathered.first == 0, "the first write of an iteration goes straight to the kernel")
        #expect((gathered.last ?? 0) > 0, "later writes wait for the end of the iteration")
        let expected = "first " + (0..<100).map { "m\($0) " }.joined()
        let received = try await client.receive { $0.count >= expected.utf8.count }
        #expect(String(decoding: received, as: UTF8.self) == expected)
        #expect(try await loop.submit { accepted.withLock { $0.first?.0.pendingWriteBytes ?? -1 } } == 0)
    }

    @Test func aLongBurstLeavesInBatchesOfTheGatherLimit() async throws {
        let (loop, port, accepted) = try await listen(.record)
        defer { loop.shutdown() }
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        try await client.send("x")
        try await Self.waitForAccept(accepted, loop: loop)
        let message = [UInt8](repeating: 65, count: 100)
        let pendingPeak = try await loop.submit { () -> Int in
            guard let (connection, _) = accepted.withLock({ $0.first }) else { return -1 }
            var peak = 0
            for _ in 0..<1000 {
                connection.write(message)
                peak = max(peak, connection.pendingWriteBytes)
            }
            return peak
        }
        #expect(pendingPeak >= 0 && pendingPeak < 4096, "a burst never gathers past the limit: peak \(pendingPeak)")
        let received = try await client.receive { $0.count >= 100_000 }
        #expect(received == [UInt8](repeating: 65, count: 100_000))
    }

    @Test func aPeerThatStopsReadingIsClosedAfterTheWriteStallTimeout() async throws {
        let (loop, port, accepted) = try await listen(.record)
        defer { loop.shutdown() }
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        try await client.pauseReading()
        try await client.send("x")
        try await Self.waitForAccept(accepted, loop: loop)
        try await loop.submit {
            guard let (connection, _) = accepted.withLock({ $0.first }) else { return }
            connection.writeStallTimeoutMilliseconds = 200
            connection.write([UInt8](repeating: 3, count: 32 * 1024 * 1024))
        }
        var closeError: UVError?
        for _ in 0..<1000 {
            closeError = try await loop.submit { accepted.withLock { $0.first?.1.closeError } }
            if closeError != nil { break }
            await loop.sleep(milliseconds: 5)
        }
        #expect(closeError?.isTimeout == true)
    }

    @Test func gracefulCloseFlushesEverythingBeforeFIN() async throws {
        let (loop, port, accepted) = try await listen(.record)
        defer { loop.shutdown() }
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        try await client.send("x")
        try await Self.waitForAccept(accepted, loop: loop)
        let total = 8 * 1024 * 1024
        try await loop.submit {
            guard let (connection, _) = accepted.withLock({ $0.first }) else { return }
            connection.write([UInt8](repeating: 4, count: total))
            connection.closeGracefully(lingerMilliseconds: 1)
        }
        let received = try await client.receive(timeout: .seconds(20)) { $0.count >= total }
        #expect(received.count == total)
        #expect(try await client.waitForClose())
    }

    @Test func closeRunsTheCloseCallbackOnceAndLeavesNoHandles() async throws {
        let (loop, port, accepted) = try await listen(.record)
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        try await client.send("data")
        try await Self.waitForAccept(accepted, loop: loop)
        try await loop.submit {
            _ = accepted.withLock { $0.first?.0.write([UInt8](repeating: 2, count: 4 * 1024 * 1024)) }
            accepted.withLock { $0.first?.0.close() }
        }
        #expect(try await client.waitForClose())
        try await client.close()
        var (events, serverReceived): ([String], [UInt8]) = ([], [])
        for _ in 0..<500 {
            (events, serverReceived) = try await loop.submit {
                accepted.withLock { ($0.first?.1.events ?? [], $0.first?.1.received ?? []) }
            }
            if events.contains("closed") { break }
            await loop.sleep(milliseconds: 2)
        }
        #expect(events.filter { $0 == "closed" }.count == 1)
        #expect(serverReceived == Array("data".utf8))
        try await loop.submit { loop.closeAllHandles() }
        var live = -1
        for _ in 0..<500 {
            live = try await loop.submit { loop.liveHandleCount }
            if live == 0 { break }
            await loop.sleep(milliseconds: 2)
        }
        #expect(live == 0, "handles still open after closeAllHandles")
        loop.shutdown()
        #expect(loop.closeStatus == 0)
    }

    @Test func fileStreamWritesAndReadsBack() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let path = NSTemporaryDirectory() + "reactor-file-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let content = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        let writer = try await FileStream.open(path, mode: .createNew, loop: loop)
        try await writer.write(Array(content[..<150_000]))
        try await writer.write(Array(content[150_000...]))
        try await writer.close()
        #expect(try await FileStream.size(of: path, loop: loop) == content.count)
        let reader = try await FileStream.open(path, mode: .read, loop: loop)
        var readBack: [UInt8] = []
        while true {
            let chunk = try await reader.read(maxBytes: 64 * 1024)
            if chunk.isEmpty { break }
            readBack += chunk
        }
        try await reader.close()
        #expect(readBack == content)
        await #expect(throws: UVError.self) { _ = try await FileStream.open(path, mode: .createNew, loop: loop) }
        #expect(try await FileStream.size(of: path + "-missing", loop: loop) == nil)
    }
}
