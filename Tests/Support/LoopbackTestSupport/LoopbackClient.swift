package import Codecs
package import Reactor

/// A raw TCP client on loopback for tests: sends exact bytes, collects every byte received and
/// notices the server's FIN, so tests can assert what went over a real socket.
package final class LoopbackClient: TCPConnectionDelegate, @unchecked Sendable {
    package let loop: EventLoop
    private var connection: TCPConnection?
    private var bytes: [UInt8] = []
    private var sawEOF = false
    private var closed = false

    private init(loop: EventLoop) {
        self.loop = loop
    }

    /// Connects to `127.0.0.1:port` and writes `initial` in the same loop iteration, so a test of
    /// a server's timeouts does not depend on how soon the test task runs again.
    package static func connect(
        loop: EventLoop, port: Int, host: String = "127.0.0.1", sending initial: [UInt8] = []
    ) async throws -> LoopbackClient {
        let client = LoopbackClient(loop: loop)
        try await Task(executorPreference: loop) {
            let connection = try await TCPConnector.connect(
                loop: loop, host: host, port: port, timeoutMilliseconds: 5000
            ).value
            client.connection = connection
            connection.delegate = client
            connection.startReading()
            if !initial.isEmpty { connection.write(initial) }
        }.value
        return client
    }

    package func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    package func send(_ data: [UInt8]) async throws {
        try await loop.submit { [self] in _ = connection?.write(data) }
    }

    /// Stops reading from the socket (the kernel's buffers fill, then the server's writes back up).
    package func pauseReading() async throws {
        try await loop.submit { [self] in connection?.pauseReading() }
    }

    package func resumeReading() async throws {
        try await loop.submit { [self] in connection?.startReading() }
    }

    /// Sends FIN; reading goes on.
    package func shutdownWrite() async throws {
        try await loop.submit { [self] in connection?.shutdownWrite() }
    }

    /// Everything received so far.
    package func received() async throws -> [UInt8] {
        try await loop.submit { [self] in bytes }
    }

    /// Waits until `condition` holds for the bytes received (or the connection ended), up to
    /// `timeout`; returns the bytes.
    ///
    /// The bytes are always read on the loop after the deadline: a test task that was kept off
    /// its thread past the deadline (a busy test run) must not judge by bytes read before it.
    @discardableResult
    package func receive(
        timeout: Duration = .seconds(5), until condition: @escaping @Sendable ([UInt8]) -> Bool
    ) async throws -> [UInt8] {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            let (data, ended) = try await loop.submit { [self] in (bytes, sawEOF || closed) }
            if condition(data) || ended { return data }
            if ContinuousClock.now >= deadline { return try await received() }
            await loop.sleep(milliseconds: 2)
        }
    }

    /// Waits for `count` complete responses and returns them, decoded.
    package func responses(_ count: Int, to methods: [HTTPMethod]? = nil, timeout: Duration = .seconds(5)) async throws
        -> [HTTPTestResponse]
    {
        let methods = methods ?? Array(repeating: .get, count: count)
        let data = try await receive(timeout: timeout) { data in
            (try? HTTPTestResponse.parse(data, methods: methods).count) ?? 0 >= count
        }
        return try HTTPTestResponse.parse(data, methods: methods)
    }

    /// Waits until the server has closed (FIN or reset); returns whether it did within `timeout`
    /// (judged on the loop after the deadline, as `receive` does).
    package func waitForClose(timeout: Duration = .seconds(5)) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if try await loop.submit({ [self] in sawEOF || closed }) { return true }
            await loop.sleep(milliseconds: 2)
        }
        return try await loop.submit { [self] in sawEOF || closed }
    }

    package func close() async throws {
        try await loop.submit { [self] in connection?.close() }
    }

    package func connection(_ connection: TCPConnection, didRead bytes: [UInt8]) {
        self.bytes += bytes
    }

    package func connectionDidReadEOF(_ connection: TCPConnection) {
        sawEOF = true
    }

    package func connectionDidBecomeWritable(_ connection: TCPConnection) {}

    package func connection(_ connection: TCPConnection, didCloseWith error: UVError?) {
        closed = true
        self.connection = nil
    }
}

/// A response decoded from raw bytes.
package struct HTTPTestResponse: Sendable {
    package var head: HTTPResponseHead
    package var body: [UInt8]

    package var status: Int { head.status }
    package var text: String { String(decoding: body, as: UTF8.self) }

    /// Decodes every complete response in `data`.
    package static func parse(_ data: [UInt8], methods: [HTTPMethod]) throws -> [HTTPTestResponse] {
        var decoder = HTTPResponseDecoder()
        for method in methods { decoder.expectResponse(to: method) }
        decoder.append(data)
        var result: [HTTPTestResponse] = []
        var current: HTTPTestResponse?
        while let part = try decoder.next() {
            switch part {
            case .head(let head): current = HTTPTestResponse(head: head, body: [])
            case .body(let chunk): current?.body += chunk
            case .end:
                if let current, current.head.status >= 200 { result.append(current) }
                current = nil
            }
        }
        return result
    }
}
