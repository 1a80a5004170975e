import Codecs
import Glibc
import Reactor

/// One benchmark client connection: does the opening handshake by hand, then counts the text
/// frames the server sends and samples their delivery latency (each payload starts with its
/// send time, CLOCK_MONOTONIC nanoseconds in 20 digits). It parses only what a server sends
/// (unmasked frames), with no per-message allocation, so the client stays cheap beside the
/// server it measures. Loop-bound.
final class LoadConnection: TCPConnectionDelegate, @unchecked Sendable {
    let tcp: TCPConnection
    /// Text messages received so far.
    private(set) var received = 0
    /// Delivery latencies in nanoseconds, one in every `sampleEvery` messages.
    private(set) var latencies: [Int] = []
    private let sampleEvery: Int
    /// When set, only text messages containing `stampKey` count, and their stamp is the number
    /// after it (a gateway message such as `..."sent_ns":123...`); others count in `otherMessages`.
    var stampKey: [UInt8]?
    /// With `stampKey`: the text messages without it.
    private(set) var otherMessages: [[UInt8]] = []
    /// With `stampKey`: when the first and the last stamped message arrived (CLOCK_MONOTONIC ns).
    private(set) var firstStampedAt = 0
    private(set) var lastStampedAt = 0
    private var buffer: [UInt8] = []
    private var handshaking = true
    private var onHandshake: ((Bool) -> Void)?
    /// Called once the connection has received `expected` messages or closed.
    var onFinished: (() -> Void)?
    var expected = Int.max

    init(tcp: TCPConnection, sampleEvery: Int) {
        self.tcp = tcp
        self.sampleEvery = sampleEvery
    }

    /// Sends the upgrade request; `completion` tells whether the server answered 101.
    func handshake(path: String, host: String, completion: @escaping (Bool) -> Void) {
        onHandshake = completion
        var bytes: [UInt8] = []
        HTTPEncoder.encode(
            WebSocketHandshake.request(target: path, host: host, key: WebSocketHandshake.makeKey()), into: &bytes)
        tcp.delegate = self
        _ = tcp.write(bytes)
        tcp.startReading()
    }

    /// Sends one masked text frame.
    func send(text: String) {
        var bytes: [UInt8] = []
        WebSocketFrameEncoder.encode(
            WebSocketFrame(opcode: .text, payload: Array(text.utf8)), maskingKey: [7, 1, 8, 3], into: &bytes)
        _ = tcp.write(bytes)
    }

    func connection(_ connection: TCPConnection, didRead bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if handshaking {
            guard let end = headEnd() else { return }
            handshaking = false
            let accepted = buffer.starts(with: Array("HTTP/1.1 101".utf8))
            buffer.removeSubrange(0..<end)
            onHandshake?(accepted)
            onHandshake = nil
        }
        parseFrames(now: monotonicNanoseconds())
    }

    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 3..<buffer.count
        where buffer[index] == 10 && buffer[index - 1] == 13 && buffer[index - 2] == 10 && buffer[index - 3] == 13 {
            return index + 1
        }
        return nil
    }

    private func parseFrames(now: Int) {
        var index = 0
        let end = buffer.count
        while end - index >= 2 {
            var length = Int(buffer[index + 1] & 0x7F)
            var offset = 2
            if length == 126 {
                guard end - index >= 4 else { break }
                length = Int(buffer[index + 2]) << 8 | Int(buffer[index + 3])
                offset = 4
            } else if length == 127 {
                guard end - index >= 10 else { break }
                length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[index + $1]) }
                offset = 10
            }
            guard end - index >= offset + length else { break }
            if buffer[index] & 0x0F == 0x1, let key = stampKey {
                let payload = buffer[(index + offset)..<(index + offset + length)]
                if let stamp = Self.number(after: key, in: payload) {
                    if received == 0 { firstStampedAt = now }
                    lastStampedAt = now
                    received += 1
                    latencies.append(now - stamp)
                    if received == expected { finish() }
                } else {
                    otherMessages.append(Array(payload))
                }
            } else if buffer[index] & 0x0F == 0x1 {
                received += 1
                if received % sampleEvery == 1, length >= 20 {
                    let stamp = (0..<20).reduce(0) { $0 * 10 + Int(buffer[index + offset + $1]) - 48 }
                    latencies.append(now - stamp)
                }
                if received == expected { finish() }
            }
            index += offset + length
        }
        buffer.removeSubrange(0..<index)
    }

    /// The decimal number right after `key` in `payload`.
    private static func number(after key: [UInt8], in payload: ArraySlice<UInt8>) -> Int? {
        guard payload.count >= key.count else { return nil }
        var start = payload.startIndex
        while start <= payload.endIndex - key.count {
            if payload[start] == key[0] && payload[start..<(start + key.count)].elementsEqual(key) {
                var value = 0
                var index = start + key.count
                // JSON allows spaces after the colon (Python's json.dumps writes one).
                while index < payload.endIndex, payload[index] == 0x20 { index += 1 }
                while index < payload.endIndex, payload[index] >= 48, payload[index] <= 57 {
                    value = value * 10 + Int(payload[index] - 48)
                    index += 1
                }
                return value
            }
            start += 1
        }
        return nil
    }

    private func finish() {
        onFinished?()
        onFinished = nil
    }

    func connectionDidReadEOF(_ connection: TCPConnection) { tcp.close() }

    func connectionDidBecomeWritable(_ connection: TCPConnection) {}

    func connection(_ connection: TCPConnection, didCloseWith error: UVError?) {
        onHandshake?(false)
        onHandshake = nil
        finish()
    }
}

extension LoadConnection {
    /// Opens `count` connections to 127.0.0.1:`port`, 100 at a time, each set up by `configure`
    /// and then upgraded to a WebSocket at `path(index)`.
    static func connectAll(
        count: Int, port: Int, loop: EventLoop, sampleEvery: Int, path: @escaping @Sendable (Int) -> String,
        configure: @escaping @Sendable (LoadConnection) -> Void = { _ in }
    ) async throws -> [LoadConnection] {
        var connections: [LoadConnection] = []
        for batchStart in stride(from: 0, to: count, by: 100) {
            try await withThrowingTaskGroup(of: LoadConnection.self) { group in
                for index in batchStart..<min(batchStart + 100, count) {
                    group.addTask(executorPreference: loop) {
                        let tcp = try await TCPConnector.connect(
                            loop: loop, host: "127.0.0.1", port: port, timeoutMilliseconds: 10_000
                        ).value
                        let connection = LoadConnection(tcp: tcp, sampleEvery: sampleEvery)
                        configure(connection)
                        let accepted = await withCheckedContinuation { continuation in
                            connection.handshake(path: path(index), host: "127.0.0.1:\(port)") {
                                continuation.resume(returning: $0)
                            }
                        }
                        guard accepted else { throw LoadError.handshakeRefused }
                        return connection
                    }
                }
                for try await connection in group { connections.append(connection) }
            }
        }
        return connections
    }
}

/// CLOCK_MONOTONIC in nanoseconds (the clock the benchmark servers stamp messages with).
func monotonicNanoseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int(now.tv_sec) * 1_000_000_000 + Int(now.tv_nsec)
}
