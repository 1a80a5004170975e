import Client
import Codecs
import Logging
import Reactor
import Routing
import Synchronization
import Testing

/// The HTTP client over real loopback sockets: against our own server (keep-alive reuse, the
/// pool bound, streamed bodies both ways, backpressure, idle expiry) and against a scripted
/// upstream for every failure (refused, hang, reset mid-response, a stale keep-alive connection).
struct HTTPClientTests {
    /// Our HTTP server with the routes the tests use; `/peer` answers the client's address, so
    /// distinct answers mean distinct connections.
    static func server(loop: EventLoop) async throws -> (HTTPServer, Int) {
        let router = RouterBuilder()
        router.get("/peer") { _, context in Response(body: .bytes(Array(context.remoteAddress.utf8))) }
        router.get("/slow") { _, _ in
            await loop.sleep(milliseconds: 50)
            return Response(body: .bytes(Array("slow".utf8)))
        }
        router.post("/count", maxBodyBytes: 1 << 30) { request, _ in
            var count = 0
            var sum = 0
            for try await chunk in request.body {
                count += chunk.count
                for byte in chunk { sum &+= Int(byte) }
            }
            return Response(body: .bytes(Array("\(count) \(sum)".utf8)))
        }
        router.get("/stream/:megabytes") { _, context in
            let megabytes = Int(context.parameters["megabytes"] ?? "") ?? 1
            return Response(
                body: .stream(length: nil) { writer in
                    let chunk = [UInt8](repeating: 7, count: 64 * 1024)
                    for _ in 0..<(megabytes * 16) { try await writer.write(chunk) }
                })
        }
        let server = HTTPServer(
            loop: loop, configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: 1 << 30),
            router: router.freeze(), logger: Logger(label: "test"))
        return (server, try await server.start())
    }

    /// Runs `body` with a client of our test server on a fresh loop, then shuts everything down
    /// (also when `body` throws, so a failing test leaves nothing running).
    static func withOurServer(
        configure: (inout HTTPClient.Configuration) -> Void = { _ in },
        _ body: @escaping @Sendable (HTTPClient, EventLoop) async throws -> Void
    ) async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let (server, port) = try await Self.server(loop: loop)
        let outcome: Result<Void, any Error>
        do {
            try await withClient(port: port, loop: loop, configure: configure) { try await body($0, loop) }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await server.shutdown()
        try outcome.get()
    }

    /// Runs `body` with a client of a `ScriptedUpstream` on a fresh loop, then shuts both down.
    static func withScripted(
        _ script: @escaping (_ connection: Int, _ request: Int) -> ScriptedUpstream.Action,
        configure: (inout HTTPClient.Configuration) -> Void = { _ in },
        _ body: @escaping @Sendable (HTTPClient, ScriptedUpstream) async throws -> Void
    ) async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let upstream = ScriptedUpstream(script: script)
        let port = try await loop.submit { try upstream.start(loop: loop) }
        let outcome: Result<Void, any Error>
        do {
            try await withClient(port: port, loop: loop, configure: configure) { try await body($0, upstream) }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        try await loop.submit { upstream.stop() }
        try outcome.get()
    }

    /// Runs `body` on `loop` with a client for `127.0.0.1:port`.
    static func withClient(
        port: Int, loop: EventLoop, configure: (inout HTTPClient.Configuration) -> Void = { _ in },
        _ body: @escaping @Sendable (HTTPClient) async throws -> Void
    ) async throws {
        var configuration = HTTPClient.Configuration(host: "127.0.0.1", port: port)
        configure(&configuration)
        let client = HTTPClient(loop: loop, configuration: configuration)
        try await Task(executorPreference: loop) {
            defer { client.shutdown() }
            try await body(client)
        }.value
    }

    /// A number shared by a test's tasks.
    final class Counter: Sendable {
        let value = Mutex(0)
    }

    static func text(_ response: HTTPClientResponse) async throws -> String {
        String(decoding: try await response.collect(upTo: 1 << 20), as: UTF8.self)
    }

    @Test func keepAliveConnectionsAreReused() async throws {
        try await Self.withOurServer { client, loop in
            var peers: Set<String> = []
            for _ in 0..<5 {
                let response = try await client.execute(HTTPClientRequest(target: "/peer"))
                #expect(response.status == 200)
                peers.insert(try await Self.text(response))
            }
            #expect(peers.count == 1, "five sequential requests used one connection: \(peers)")
            #expect(client.openConnections == 1 && client.idleConnections == 1)
        }
    }

    @Test func thePoolNeverOpensMoreThanItsBound() async throws {
        try await Self.withOurServer(configure: { $0.maxConnections = 3 }) { client, loop in
            let peak = Counter()
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<12 {
                    group.addTask(executorPreference: loop) {
                        let response = try await client.execute(HTTPClientRequest(target: "/slow"))
                        peak.value.withLock { $0 = max($0, client.openConnections) }
                        return try await Self.text(response)
                    }
                }
                for try await text in group { #expect(text == "slow") }
            }
            #expect(peak.value.withLock { $0 } <= 3)
            #expect(client.openConnections == 3, "all three stay pooled")
        }
    }

    @Test(arguments: [false, true])
    func streamedRequestBodiesArriveWhole(chunked: Bool) async throws {
        try await Self.withOurServer { client, loop in
            // One precomputed chunk, a multiple of 256 long, so each chunk continues the byte
            // pattern: producing the body costs nothing (the loop it shares must not starve).
            let pattern = (0..<102_400).map { UInt8(truncatingIfNeeded: $0) }
            let produced = Counter()
            let total = 3_000_000
            let request = HTTPClientRequest(
                method: .post, target: "/count",
                body: .stream(length: chunked ? nil : total) {
                    produced.value.withLock { sent in
                        guard sent < total else { return nil }
                        let size = min(pattern.count, total - sent)
                        sent += size
                        return size == pattern.count ? pattern : Array(pattern[..<size])
                    }
                })
            let response = try await client.execute(request)
            let expectedSum = total / 256 * (255 * 128) + (0..<(total % 256)).reduce(0, +)
            #expect(try await Self.text(response) == "\(total) \(expectedSum)")
            let small = try await client.execute(
                HTTPClientRequest(method: .post, target: "/count", body: .bytes([1, 2, 3])))
            #expect(try await Self.text(small) == "3 6")
            #expect(client.openConnections == 1, "both bodies kept the connection reusable")
        }
    }

    @Test func streamedResponsesAreHeldBackWhileUnread() async throws {
        try await Self.withOurServer { client, loop in
            let response = try await client.execute(HTTPClientRequest(target: "/stream/32"))
            await loop.sleep(milliseconds: 200)
            let unread = response.body.unreadBytes
            #expect(unread <= 256 * 1024 + 128 * 1024, "reading stopped near the limit: \(unread) unread")
            var total = 0
            for try await chunk in response.body {
                #expect(chunk.allSatisfy { $0 == 7 })
                total += chunk.count
            }
            #expect(total == 32 << 20)
            let again = try await client.execute(HTTPClientRequest(target: "/peer"))
            #expect(again.status == 200)
            _ = try await Self.text(again)
            #expect(client.openConnections == 1, "a body read to its end returns the connection")
        }
    }

    @Test func anAbandonedBodyClosesItsConnection() async throws {
        try await Self.withOurServer { client, loop in
            do {
                let response = try await client.execute(HTTPClientRequest(target: "/stream/8"))
                var iterator = response.body.makeAsyncIterator()
                _ = try await iterator.next()
            }
            for _ in 0..<100 where client.openConnections > 0 { await loop.sleep(milliseconds: 5) }
            #expect(client.openConnections == 0)
            let next = try await client.execute(HTTPClientRequest(target: "/peer"))
            #expect(next.status == 200)
            _ = try await Self.text(next)
        }
    }

    @Test func idleConnectionsExpire() async throws {
        try await Self.withOurServer(configure: { $0.idleTimeout = .milliseconds(100) }) { client, loop in
            _ = try await Self.text(try await client.execute(HTTPClientRequest(target: "/peer")))
            #expect(client.openConnections == 1)
            for _ in 0..<100 where client.openConnections > 0 { await loop.sleep(milliseconds: 10) }
            #expect(client.openConnections == 0)
        }
    }

    @Test func aRefusedConnectionIsConnectFailed() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let port = try await loop.submit { () -> Int in
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
            let port = listener.localPort
            listener.stopAccepting()
            return port
        }
        try await Self.withClient(port: port, loop: loop) { client in
            await #expect {
                _ = try await client.execute(HTTPClientRequest(target: "/"))
            } throws: { error in
                guard case .connectFailed(let reason) = error as? HTTPClientError else { return false }
                return reason.contains("ECONNREFUSED")
            }
            #expect(client.openConnections == 0)
        }
    }

    @Test func aConnectThatGetsNoAnswerFailsAfterTheConnectTimeout() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let port = try await loop.submit { () -> Int in
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0, backlog: 1) { _ in }
            listener.holdsConnections = true
            return listener.localPort
        }
        // Fill the listener's accept queue; after that the kernel drops new SYNs.
        var held: [LoopBound<TCPConnection>] = []
        for _ in 0..<4 {
            if let connection = try? await TCPConnector.connect(
                loop: loop, host: "127.0.0.1", port: port, timeoutMilliseconds: 300)
            {
                held.append(connection)
            }
        }
        try await Self.withClient(port: port, loop: loop, configure: { $0.connectTimeout = .milliseconds(300) }) {
            client in
            let started = ContinuousClock.now
            await #expect {
                _ = try await client.execute(HTTPClientRequest(target: "/system_stats"))
            } throws: { error in
                guard case .connectFailed(let reason) = error as? HTTPClientError else { return false }
                return reason.contains("no connection within")
            }
            #expect(ContinuousClock.now - started < .seconds(3))
        }
        let connections = held
        try await loop.submit { for connection in connections { connection.value.close() } }
    }

    @Test func anUpstreamThatHangsTimesOut() async throws {
        try await Self.withScripted({ _, _ in .hang }, configure: { $0.requestTimeout = .milliseconds(300) }) {
            client, _ in
            let started = ContinuousClock.now
            await #expect {
                _ = try await client.execute(HTTPClientRequest(target: "/system_stats"))
            } throws: { error in
                if case .timedOut = error as? HTTPClientError { return true }
                return false
            }
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test func aResetInTheMiddleOfABodyFailsTheBody() async throws {
        let partial = ScriptedUpstream.Action.partThenReset(
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly part of it")
        try await Self.withScripted({ _, _ in partial }) { client, _ in
            let response = try await client.execute(HTTPClientRequest(target: "/view"))
            #expect(response.status == 200)
            await #expect {
                _ = try await response.collect(upTo: 10_000)
            } throws: { error in
                if case .connectionClosed = error as? HTTPClientError { return true }
                return false
            }
        }
    }

    /// The first connection answers its first request, then drops the second without a word (as
    /// an upstream closing an idle connection at the moment it is reused); other connections
    /// answer everything.
    static func dropsTheSecondRequestOfOddConnections(connection: Int, request: Int) -> ScriptedUpstream.Action {
        connection % 2 == 1 && request == 2 ? .close : .respond(ScriptedUpstream.ok("fine \(connection)"))
    }

    @Test func aStaleKeepAliveConnectionIsRetriedOnceForAGet() async throws {
        try await Self.withScripted(Self.dropsTheSecondRequestOfOddConnections) { client, upstream in
            #expect(try await Self.text(try await client.execute(HTTPClientRequest(target: "/a"))) == "fine 1")
            let retried = try await client.execute(HTTPClientRequest(target: "/b"))
            #expect(try await Self.text(retried) == "fine 2", "the GET went again on a new connection")
            #expect(try await Self.text(try await client.execute(HTTPClientRequest(target: "/c"))) == "fine 2")
            #expect(upstream.accepted == 2)
        }
    }

    @Test func aPostOnAStaleConnectionIsNotRetried() async throws {
        try await Self.withScripted(Self.dropsTheSecondRequestOfOddConnections) { client, upstream in
            _ = try await Self.text(try await client.execute(HTTPClientRequest(target: "/a")))
            await #expect {
                _ = try await client.execute(HTTPClientRequest(method: .post, target: "/prompt", body: .bytes([1])))
            } throws: { error in
                if case .connectionClosed = error as? HTTPClientError { return true }
                return false
            }
            #expect(upstream.accepted == 1, "no second connection for the POST")
        }
    }

    @Test func informationalResponsesBeforeTheRealOneAreSkipped() async throws {
        let answer =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            + ScriptedUpstream.ok("real")
        try await Self.withScripted({ _, _ in .respond(answer) }, configure: { $0.requestTimeout = .seconds(5) }) {
            client, _ in
            let response = try await client.execute(HTTPClientRequest(method: .post, target: "/", body: .bytes([1])))
            #expect(response.status == 200)
            #expect(try await Self.text(response) == "real")
            #expect(client.openConnections == 1, "still reusable")
        }
    }

    @Test func queuedRequestsSurviveAConnectionThatClosesRightAfterItsResponse() async throws {
        // The first connection's answer is followed at once by FIN (without `Connection:
        // close`): it looks reusable when the response ends, then closes. With one slot and four
        // callers, the ones queued behind it still get answers (a new connection, or a retry).
        try await Self.withScripted(
            { connection, _ in
                connection == 1
                    ? .respondAndClose(ScriptedUpstream.ok("first")) : .respond(ScriptedUpstream.ok("later"))
            }, configure: { $0.maxConnections = 1 }
        ) { client, upstream in
            let texts = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<4 {
                    group.addTask(executorPreference: client.loop) {
                        try await Self.text(try await client.execute(HTTPClientRequest(target: "/")))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(texts.sorted() == ["first", "later", "later", "later"])
            #expect(upstream.accepted == 2)
        }
    }
}
