import Codecs
import Foundation
import Logging
import LoopbackTestSupport
import Reactor
import Routing
import Testing

/// The HTTP server end to end over real loopback sockets, with a test route table.
struct HTTPServerTests {
    /// A running server; `stop()` shuts it and its loop down.
    struct Running {
        let loop: EventLoop
        let server: HTTPServer
        let port: Int

        func client(sending initial: String = "") async throws -> LoopbackClient {
            try await LoopbackClient.connect(loop: loop, port: port, sending: Array(initial.utf8))
        }

        func stop() async {
            await server.shutdown()
            loop.shutdown()
        }
    }

    /// Counts handler calls across threads.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func add() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }

    static func start(
        timeouts: HTTPServerConnectionStateMachine<ContinuousClock>.Timeouts = .init(), maxConnections: Int = 100,
        drainTimeout: Duration = .seconds(5), handled: Counter = Counter()
    ) async throws -> Running {
        let loop = try EventLoop()
        loop.start()
        let router = RouterBuilder()
        router.add(middleware: RequestIDMiddleware())
        router.get("/hello") { request, _ in
            Response(
                status: 200, headers: ["Content-Type": "text/plain"], body: .bytes(Array("hello \(request.path)".utf8)))
        }
        router.get("/path/:name") { _, context in
            Response(status: 200, body: .bytes(Array((context.parameters["name"] ?? "").utf8)))
        }
        router.get("/gated") { _, _ in
            await HTTPServerTests.shutdownGate.wait()
            return Response(status: 200, body: .bytes(Array("gated".utf8)))
        }
        router.get("/slow/:ms") { _, context in
            await loop.sleep(milliseconds: UInt64(context.parameters["ms"] ?? "0") ?? 0)
            return Response(status: 200, body: .bytes(Array("slow".utf8)))
        }
        router.post("/echo", maxBodyBytes: 1_000_000) { request, _ in
            let body = try await request.body.collect(upTo: 1_000_000)
            return Response(status: 200, body: .bytes(body))
        }
        router.post("/small", maxBodyBytes: 10) { request, _ in
            let body = try await request.body.collect(upTo: 10)
            return Response(status: 200, body: .bytes(body))
        }
        router.webSocket(
            "/ws/:id",
            configuration: WebSocketConfiguration(
                protocols: ["echo.v1"], maxMessageSize: 1 << 20, closeTimeout: .milliseconds(300))
        ) {
            socket, _, context in
            if context.parameters["id"] == "hello" { try await socket.send(text: "hello") }
            for await message in socket.messages {
                switch message {
                case .text(let text): try await socket.send(text: text)
                case .binary(let bytes): try await socket.send(binary: bytes)
                }
            }
        }
        router.webSocket(
            "/quiet",
            configuration: WebSocketConfiguration(pingInterval: .milliseconds(1000), closeTimeout: .milliseconds(300))
        ) {
            socket, _, _ in
            for await _ in socket.messages {}
        }
        router.get("/nocontent") { _, _ in
            Response(status: 204, headers: ["X-Done": "yes"], body: .bytes(Array("ignored".utf8)))
        }
        router.get("/big") { _, _ in
            handled.add()
            return Response(status: 200, body: .bytes([UInt8](repeating: 0x61, count: 64 * 1024)))
        }
        router.on(
            .get, "/now/:name",
            immediate: { request, context in
                let name = context.parameters["name"] ?? ""
                if name == "teapot" { throw HTTPError(status: 418, code: .invalidRequest, message: "short and stout") }
                if name == "big" {
                    handled.add()
                    return Response(status: 200, body: .bytes([UInt8](repeating: 0x62, count: 64 * 1024)))
                }
                if name == "stream" {
                    return Response(
                        status: 200, body: .stream(length: nil) { writer in try await writer.write([0x73]) })
                }
                return Response(status: 200, body: .bytes(Array("now \(name) \(request.path)".utf8)))
            })
        router.on(
            .post, "/now-post",
            immediate: { request, _ in
                Response(
                    status: 200,
                    body: .bytes(Array("declared \(request.head.headers[first: "Content-Length"] ?? "")".utf8)))
            })
        router.get("/short") { _, _ in
            Response(status: 200, body: .stream(length: 10) { writer in try await writer.write(Array("12345".utf8)) })
        }
        router.get("/stream/:count") { _, context in
            let count = Int(context.parameters["count"] ?? "0") ?? 0
            return Response(
                status: 200,
                body: .stream(length: nil) { writer in
                    for index in 0..<count {
                        try await writer.write([UInt8](repeating: UInt8(index % 256), count: 1024))
                    }
                })
        }
        let server = HTTPServer(
            loop: loop,
            configuration: HTTPServerConfiguration(
                maxConnections: maxConnections, timeouts: timeouts, maxBodyBytes: 1024, drainTimeout: drainTimeout),
            router: router.freeze(), logger: Logger(label: "test"))
        let port = try await server.start()
        return Running(loop: loop, server: server, port: port)
    }

    static func errorCode(_ response: HTTPTestResponse) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (object?["error"] as? [String: Any])?["code"] as? String
    }

    @Test func keepAliveReusesTheConnection() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.responses(1).first?.text == "hello /hello")
        try await client.send("GET /path/two HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = try await client.responses(2)
        #expect(responses.map(\.text) == ["hello /hello", "two"])
        #expect(responses.allSatisfy { $0.head.headers[first: "Connection"] == nil })
        #expect(try await running.loop.submit { running.server.connectionCount } == 1)
        await running.stop()
    }

    @Test func threePipelinedRequestsInOneWriteAreAnsweredInOrder() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send(
            "GET /slow/50 HTTP/1.1\r\nHost: x\r\n\r\nGET /path/second HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        let responses = try await client.responses(3)
        #expect(responses.map(\.status) == [200, 200, 404])
        #expect(responses.map(\.text).prefix(2) == ["slow", "second"])
        await running.stop()
    }

    @Test func http10GetsItsResponseThenTheConnectionCloses() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send("GET /hello HTTP/1.0\r\n\r\n")
        #expect(try await client.waitForClose())
        let responses = try HTTPTestResponse.parse(try await client.received(), methods: [.get])
        #expect(responses.first?.text == "hello /hello")
        #expect(responses.first?.head.headers[first: "Connection"] == "close")
        await running.stop()
    }

    @Test func http10KeepAliveIsHonoured() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = try await client.responses(1)
        #expect(first.first?.head.headers[first: "Connection"] == "keep-alive")
        try await client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try await client.responses(2).count == 2)
        await running.stop()
    }

    struct BadRequest: Sendable, CustomTestStringConvertible {
        let raw: String
        let status: Int
        let code: String
        init(_ raw: String, _ status: Int, _ code: String) {
            self.raw = raw
            self.status = status
            self.code = code
        }
        var testDescription: String { "\(status) for \(raw.prefix(40).debugDescription)" }
    }

    @Test(
        arguments: [
            ("GET /hello HTTP/1.1\r\nHost : x\r\n\r\n", 400, "INVALID_REQUEST"),
            ("GET /hello HTTP/1.1\r\n\r\n", 400, "INVALID_REQUEST"),
            ("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890", 413, "PAYLOAD_TOO_LARGE"),
            (
                "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n01234567890\r\n0\r\n\r\n",
                413, "PAYLOAD_TOO_LARGE"
            ),
            ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "INVALID_REQUEST"),
            (
                "GET / HTTP/1.1\r\nHost: x\r\n"
                    + String(repeating: "X-F: " + String(repeating: "v", count: 1000) + "\r\n", count: 70) + "\r\n",
                431, "INVALID_REQUEST"
            ),
            ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "INVALID_REQUEST"),
            ("GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", 505, "INVALID_REQUEST"),
            (
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                "INVALID_REQUEST"
            ),
        ].map(BadRequest.init))
    func badRequestsGetTheirStatusInTheErrorShapeAndTheConnectionCloses(case bad: BadRequest) async throws {
        let (status, code) = (bad.status, bad.code)
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send(bad.raw)
        #expect(try await client.waitForClose())
        let responses = try HTTPTestResponse.parse(try await client.received(), methods: [.get])
        #expect(responses.first?.status == status)
        #expect(responses.first.flatMap(Self.errorCode) == code)
        #expect(responses.first?.head.headers[first: "X-Request-Id"] != nil)
        await running.stop()
    }

    @Test func slowHeadersTimeOutWith408() async throws {
        let running = try await Self.start(
            timeouts: .init(header: .milliseconds(1000), idle: .seconds(60), body: .seconds(30)))
        let client = try await running.client(sending: "GET /hello HTTP/1.1\r\nHost: x\r\n")
        #expect(try await client.waitForClose(timeout: .seconds(3)))
        let raw = try await client.received()
        let responses = try HTTPTestResponse.parse(raw, methods: [.get])
        #expect(responses.first?.status == 408, "\(String(decoding: raw, as: UTF8.self))")
        await running.stop()
    }

    @Test func idleKeepAliveConnectionsAreClosed() async throws {
        let running = try await Self.start(
            timeouts: .init(header: .seconds(10), idle: .milliseconds(150), body: .seconds(30)))
        let client = try await running.client()
        try await client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try await client.responses(1)
        #expect(try await client.waitForClose(timeout: .seconds(3)))
        await running.stop()
    }

    @Test func stalledBodyGets408() async throws {
        let running = try await Self.start(
            timeouts: .init(header: .seconds(10), idle: .seconds(60), body: .milliseconds(200)))
        let client = try await running.client(
            sending: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        #expect(try await client.waitForClose(timeout: .seconds(3)))
        let responses = try HTTPTestResponse.parse(try await client.received(), methods: [.post])
        #expect(responses.first?.status == 408)
        await running.stop()
    }

    @Test func headAnswersWithoutABody() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = try await client.responses(2, to: [.head, .get])
        #expect(responses[0].body.isEmpty)
        #expect(responses[0].head.headers[first: "Content-Length"] == "12")
        #expect(responses[1].text == "hello /hello")
        await running.stop()
    }

    @Test func expectContinueThenTheBody() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let interim = try await client.receive { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }
        #expect(String(decoding: interim, as: UTF8.self).hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
        try await client.send("data")
        #expect(try await client.responses(1, to: [.post]).first?.text == "data")
        await running.stop()
    }

    @Test func continueComesBeforeAResponseThatIgnoresTheBody() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let data = try await client.receive { String(decoding: $0, as: UTF8.self).contains("METHOD_NOT_ALLOWED") }
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 405 Method Not Allowed\r\n"))
        await running.stop()
    }

    @Test func chunkedRequestBodyIsStreamedToTheHandler() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        let payload = String(repeating: "0123456789", count: 30_000)
        var raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        var rest = payload[...]
        while !rest.isEmpty {
            let piece = rest.prefix(7000)
            raw += String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n"
            rest = rest.dropFirst(7000)
        }
        try await client.send(raw + "0\r\n\r\n")
        let response = try await client.responses(1, to: [.post], timeout: .seconds(10)).first
        #expect(response?.body.count == payload.utf8.count)
        #expect(response?.text == payload)
        await running.stop()
    }

    @Test func streamedResponseIsChunked() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send("GET /stream/2000 HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try await client.responses(1, timeout: .seconds(10)).first
        #expect(response?.head.headers[first: "Transfer-Encoding"] == "chunked")
        #expect(response?.body.count == 2000 * 1024)
        #expect(response?.body[1024 * 3] == 3)
        await running.stop()
    }

    @Test func noContentHasNeitherBodyNorLength() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send("GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = try await client.responses(2)
        #expect(responses[0].status == 204)
        #expect(responses[0].head.headers[first: "Content-Length"] == nil)
        #expect(responses[0].body.isEmpty)
        #expect(responses[1].text == "hello /hello")
        await running.stop()
    }

    @Test func pipelinedRequestsWaitWhileTheClientDoesNotRead() async throws {
        let handled = Counter()
        let running = try await Self.start(handled: handled)
        let client = try await running.client()
        try await client.pauseReading()
        try await client.send(String(repeating: "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", count: 400))
        await running.loop.sleep(milliseconds: 300)
        #expect(handled.value < 100, "\(handled.value) responses of 64 KiB were queued for a client that reads nothing")
        try await client.resumeReading()
        let responses = try await client.responses(400, timeout: .seconds(20))
        #expect(responses.count == 400)
        #expect(handled.value == 400)
        await running.stop()
    }

    @Test func immediateRoutesAnswerPipelinedRequestsInOrderThroughTheirMiddleware() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send(
            "GET /now/a HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                + "HEAD /now/b HTTP/1.1\r\nHost: x\r\n\r\nGET /now/teapot HTTP/1.1\r\nHost: x\r\nX-Request-Id: tea-1\r\n\r\n"
                + "GET /now/c HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = try await client.responses(5, to: [.get, .get, .head, .get, .get])
        #expect(responses.map(\.status) == [200, 200, 200, 418, 200])
        #expect(responses[0].text == "now a /now/a")
        #expect(responses[1].text == "hello /hello")
        #expect(responses[2].body.isEmpty && responses[2].head.headers[first: "Content-Length"] == "12")
        #expect(Self.errorCode(responses[3]) == "INVALID_REQUEST")
        #expect(responses[3].head.headers[first: "X-Request-Id"] == "tea-1")
        #expect(responses[4].text == "now c /now/c")
        #expect(responses.allSatisfy { $0.head.headers[first: "X-Request-Id"] != nil })
        await running.stop()
    }

    @Test func anImmediateRouteWithABodyOrAStreamIsStillServed() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send(
            "POST /now-post HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                + "GET /now/stream HTTP/1.1\r\nHost: x\r\n\r\nGET /now/d HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = try await client.responses(3)
        #expect(responses.map(\.text) == ["declared 3", "s", "now d /now/d"])
        await running.stop()
    }

    @Test func pipelinedImmediateRequestsWaitWhileTheClientDoesNotRead() async throws {
        let handled = Counter()
        let running = try await Self.start(handled: handled)
        let client = try await running.client()
        try await client.pauseReading()
        try await client.send(String(repeating: "GET /now/big HTTP/1.1\r\nHost: x\r\n\r\n", count: 400))
        await running.loop.sleep(milliseconds: 300)
        #expect(handled.value < 100, "\(handled.value) responses of 64 KiB were queued for a client that reads nothing")
        try await client.resumeReading()
        let responses = try await client.responses(400, timeout: .seconds(20))
        #expect(responses.count == 400 && responses.allSatisfy { $0.body.count == 64 * 1024 })
        #expect(handled.value == 400)
        await running.stop()
    }

    @Test func streamedBodyShorterThanAnnouncedCutsTheConnection() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send("GET /short HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.waitForClose())
        let text = String(decoding: try await client.received(), as: UTF8.self)
        #expect(text.contains("Content-Length: 10"))
        #expect(!text.contains("hello /hello"), "a request after a broken response must not be answered")
        await running.stop()
    }

    @Test func requestIDIsEchoedOrGenerated() async throws {
        let running = try await Self.start()
        let client = try await running.client()
        try await client.send(
            "GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: my-id-1\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: bad id\r\n\r\n"
        )
        let responses = try await client.responses(2)
        #expect(responses[0].head.headers[first: "X-Request-Id"] == "my-id-1")
        #expect(responses[1].head.headers[first: "X-Request-Id"]?.count == 32)
        await running.stop()
    }

    /// Holds `/gated` requests until the shutdown test opens it (only that test uses the route).
    final class Gate: @unchecked Sendable {
        private let lock = NSLock()
        private var opened = false
        private var waiters: [CheckedContinuation<Void, Never>] = []

        var waiting: Int {
            lock.lock()
            defer { lock.unlock() }
            return waiters.count
        }

        func wait() async {
            await withCheckedContinuation { continuation in
                lock.lock()
                if opened {
                    lock.unlock()
                    continuation.resume()
                } else {
                    waiters.append(continuation)
                    lock.unlock()
                }
            }
        }

        func open() {
            lock.lock()
            opened = true
            let waiting = waiters
            waiters.removeAll()
            lock.unlock()
            for waiter in waiting { waiter.resume() }
        }
    }

    static let shutdownGate = Gate()

    @Test func shutdownFinishesTheRequestInFlight() async throws {
        // A drain limit far above what the test needs: an elapsed time under it shows shutdown
        // ended with the response, not at the limit, even when a busy test run delays this task.
        let running = try await Self.start(drainTimeout: .seconds(30))
        // The handler is held until the server has begun draining (its listener refuses new
        // connections, which happens in the same loop job as telling every connection), so the
        // response is always in flight at shutdown, however slowly this test task runs.
        let busy = try await running.client(sending: "GET /gated HTTP/1.1\r\nHost: x\r\n\r\n")
        let idle = try await running.client()
        for _ in 0..<500 where Self.shutdownGate.waiting == 0 { await running.loop.sleep(milliseconds: 10) }
        let started = ContinuousClock.now
        let shutdown = Task { await running.server.shutdown() }
        for _ in 0..<500 {
            guard let probe = try? await LoopbackClient.connect(loop: running.loop, port: running.port) else { break }
            try await probe.close()
            await running.loop.sleep(milliseconds: 10)
        }
        Self.shutdownGate.open()
        await shutdown.value
        let elapsed = ContinuousClock.now - started
        let response = try HTTPTestResponse.parse(try await busy.received(), methods: [.get]).first
        #expect(response?.text == "gated")
        #expect(response?.head.headers[first: "Connection"] == "close")
        #expect(try await idle.waitForClose(timeout: .milliseconds(100)))
        #expect(try await busy.waitForClose(timeout: .milliseconds(100)))
        #expect(elapsed < .seconds(20))
        #expect(try await running.loop.submit { running.server.connectionCount } == 0)
        await #expect(throws: (any Error).self) {
            _ = try await LoopbackClient.connect(loop: running.loop, port: running.port)
        }
        running.loop.shutdown()
    }

    @Test func connectionsBeyondTheLimitGet503() async throws {
        let running = try await Self.start(maxConnections: 1)
        let first = try await running.client()
        try await first.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try await first.responses(1)
        let second = try await running.client()
        #expect(try await second.waitForClose())
        let responses = try HTTPTestResponse.parse(try await second.received(), methods: [.get])
        #expect(responses.first?.status == 503)
        await running.stop()
    }
}
