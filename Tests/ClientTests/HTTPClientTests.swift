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

    /// Runs `body` on a fresh loop with a client for `127.0.0.1:port`.
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
        let loop = try EventLoop()
        loop.start()
        let (server, port) = try await Self.server(loop: loop)
        try await Self.withClient(port: port, loop: loop) { client in
            var peers: Set<String> = []
            for _ in 0..<5 {
                let response = try await client.execute(HTTPClientRequest(target: "/peer"))
                #expect(response.status == 200)
                peers.insert(try await Self.text(response))
            }
            #expect(peers.count == 1, "five sequential requests used one connection: \(peers)")
            #expect(client.openConnections == 1 && client.idleConnections == 1)
        }
        await server.shutdown()
        loop.shutdown()
    }

    @Test func thePoolNeverOpensMoreThanItsBound() async throws {
        let loop = try EventLoop()
        loop.start()
        let (server, port) = try await Self.server(loop: loop)
        try await Self.withClient(port: port, loop: loop, configure: { $0.maxConnections = 3 }) { client in
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
        await server.shutdown()
        loop.shutdown()
    }

    @Test(arguments: [false, true])
    func streamedRequestBodiesArriveWhole(chunked: Bool) async throws {
        let loop = try EventLoop()
        loop.start()
        let (server, port) = try await Self.server(loop: loop)
        try await Self.withClient(port: port, loop: loop) { client in
            let produced = Counter()
            let total = 3_000_000
            let request = HTTPClientRequest(
                method: .post, target: "/count",
                body: .stream(length: chunked ? nil : total) {
                    produced.value.withLock { sent in
                        guard sent < total else { return nil }
                        let size = min(100_000, total - sent)
                        defer { sent += size }
                        return (0..<size).map { UInt8(truncatingIfNeeded: sent + $0) }
                    }
                })
            let response = try await client.execute(request)
            let expectedSum = (0..<total).reduce(0) { $0 &+ Int(UInt8(truncatingIfNeeded: $1)) }
            #expect(try await Self.text(response) == "\(total) \(expectedSum)")
            let small = try await client.execute(
                HTTPClientRequest(method: .post, target: "/count", body: .bytes([1, 2, 3])))
            #expect(try await Self.text(small) == "3 6")
            #expect(client.openConnections == 1, "both bodies kept the connection reusable")
        }
        await server.shutdown()
        loop.shutdown()
    }

    @Test func streamedResponsesAreHeldBackWhileUnread() async throws {
        let loop = try EventLoop()
        loop.start()
        let (server, port) = try await Self.server(loop: loop)
        try await Self.withClient(port: port, loop: loop) { client in
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
        await server.shutdown()
        loop.shutdown()
    }

    @Test func anAbandonedBodyClosesItsConnection() async throws {
        let loop = try EventLoop()
        loop.start()
        let (server, port) = try await Self.server(loop: loop)
        try await Self.withClient(port: port, loop: loop) { client in
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
        await server.shutdown()
        loop.shutdown()
    }

    @Test func idleConnectionsExpire() async throws {
        let loop = try EventLoop()
        loop.start()
        let (server, port) = try await Self.server(loop: loop)
        try await Self.withClient(port: port, loop: loop, configure: { $0.idleTimeout = .milliseconds(100) }) {
            client in
            _ = try await Self.text(try await client.execute(HTTPClientRequest(target: "/peer")))
            #expect(client.openConnections == 1)
            for _ in 0..<100 where client.openConnections > 0 { await loop.sleep(milliseconds: 10) }
            #expect(client.openConnections == 0)
        }
        await server.shutdown()
        loop.shutdown()
    }

    @Test func aRefusedConnectionIsConnectFailed() async throws {
        let loop = try EventLoop()
        loop.start()
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
        loop.shutdown()
    }

    @Test func anUpstreamThatHangsTimesOut() async throws {
        let loop = try EventLoop()
        loop.start()
        let upstream = ScriptedUpstream { _, _ in .hang }
        let port = try await loop.submit { try upstream.start(loop: loop) }
        try await Self.withClient(port: port, loop: loop, configure: { $0.requestTimeout = .milliseconds(300) }) {
            client in
            let started = ContinuousClock.now
            await #expect {
                _ = try await client.execute(HTTPClientRequest(target: "/system_stats"))
            } throws: { error in
                if case .timedOut = error as? HTTPClientError { return true }
                return false
            }
            #expect(ContinuousClock.now - started < .seconds(5))
        }
        try await loop.submit { upstream.stop() }
        loop.shutdown()
    }

    @Test func aResetInTheMiddleOfABodyFailsTheBody() async throws {
        let loop = try EventLoop()
        loop.start()
        let upstream = ScriptedUpstream { _, _ in
            .partThenReset("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly part of it")
        }
        let port = try await loop.submit { try upstream.start(loop: loop) }
        try await Self.withClient(port: port, loop: loop) { client in
            let response = try await client.execute(HTTPClientRequest(target: "/view"))
            #expect(response.status == 200)
            await #expect {
                _ = try await response.collect(upTo: 10_000)
            } throws: { error in
                if case .connectionClosed = error as? HTTPClientError { return true }
                return false
            }
        }
        try await loop.submit { upstream.stop() }
        loop.shutdown()
    }

    @Test func aStaleKeepAliveConnectionIsRetriedOnceForIdempotentRequestsOnly() async throws {
        let loop = try EventLoop()
        loop.start()
        // The first connection answers its first request, then drops the second without a word
        // (as an upstream closing an idle connection at the moment it is reused); later
        // connections answer everything.
        let upstream = ScriptedUpstream { connection, request in
            connection % 2 == 1 && request == 2 ? .close : .respond(ScriptedUpstream.ok("fine \(connection)"))
        }
        let port = try await loop.submit { try upstream.start(loop: loop) }
        try await Self.withClient(port: port, loop: loop) { client in
            #expect(try await Self.text(try await client.execute(HTTPClientRequest(target: "/a"))) == "fine 1")
            let retried = try await client.execute(HTTPClientRequest(target: "/b"))
            #expect(try await Self.text(retried) == "fine 2", "the GET went again on a new connection")
            #expect(try await Self.text(try await client.execute(HTTPClientRequest(target: "/c"))) == "fine 2")
        }
        try await Self.withClient(port: port, loop: loop) { client in
            _ = try await Self.text(try await client.execute(HTTPClientRequest(target: "/a")))
            await #expect {
                _ = try await client.execute(HTTPClientRequest(method: .post, target: "/prompt", body: .bytes([1])))
            } throws: { error in
                if case .connectionClosed = error as? HTTPClientError { return true }
                return false
            }
        }
        #expect(try await loop.submit { upstream.accepted } == 3, "one retry connection, none for the POST")
        try await loop.submit { upstream.stop() }
        loop.shutdown()
    }
}
