import Codecs
import Logging
import LoopbackTestSupport
import MetricsTestKit
import Reactor
import Routing
import Testing

/// API keys, CORS and request metrics through a real server: the middleware stack the gateway
/// uses, over loopback sockets. Serialized: each case starts its own loop and server, and two
/// dozen at once would crowd the timing tests of the other suites on a 2-core machine.
@Suite(.serialized)
struct AccessControlTests {
    struct Running {
        let loop: EventLoop
        let server: HTTPServer
        let port: Int
        let metrics: TestMetrics
        let policy: AccessPolicy

        /// Sends one request and returns its response.
        func exchange(_ request: String, method: HTTPMethod = .get) async throws -> HTTPTestResponse {
            let client = try await LoopbackClient.connect(loop: loop, port: port, sending: Array(request.utf8))
            let responses = try await client.responses(1, to: [method])
            try await client.close()
            return try #require(responses.first)
        }

        func get(_ target: String, headers: String = "") async throws -> HTTPTestResponse {
            try await exchange("GET \(target) HTTP/1.1\r\nHost: x\r\n\(headers)\r\n")
        }

        func stop() async {
            await server.shutdown()
            loop.shutdown()
        }
    }

    static func start(keys: [String] = ["key-one", "key-two"], origins: [String] = []) async throws -> Running {
        let loop = try EventLoop()
        loop.start()
        let metrics = TestMetrics()
        let policy = AccessPolicy(AccessPolicy.Rules(apiKeys: keys, corsOrigins: origins))
        let router = RouterBuilder()
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: MetricsMiddleware(metrics: HTTPMetrics(factory: metrics)))
        router.add(middleware: AccessLogMiddleware())
        router.add(middleware: CORSMiddleware(policy: policy))
        router.add(middleware: APIKeyMiddleware(policy: policy, openPatterns: ["/health"]))
        router.get("/health") { _, _ in Response(body: .bytes(Array("ok".utf8))) }
        router.get("/cached") { _, _ in Response(headers: ["Cache-Control": "public, max-age=3600"]) }
        router.get("/items/:id") { _, context in Response(body: .bytes(Array((context.parameters["id"] ?? "").utf8))) }
        router.post("/items") { _, _ in Response(status: 201) }
        router.webSocket("/ws/:id") { socket, _, _ in try await socket.send(text: "hello") }
        let server = HTTPServer(
            loop: loop, configuration: HTTPServerConfiguration(), router: router.freeze(),
            logger: Logger(label: "test"))
        let port = try await server.start()
        return Running(loop: loop, server: server, port: port, metrics: metrics, policy: policy)
    }

    static let upgrade =
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

    @Test(arguments: [
        ("", 401, #"Bearer realm="comfy-gateway""#),
        ("Authorization: Bearer wrong\r\n", 401, #"error="invalid_token""#),
        ("X-API-Key: wrong\r\n", 401, #"error="invalid_token""#),
        ("Authorization: Basic a2V5LW9uZQ==\r\n", 401, #"error="invalid_request""#),
        ("Authorization: Bearer\r\n", 401, #"error="invalid_request""#),
        ("Authorization: Bearer key-one\r\nX-API-Key: key-two\r\n", 401, #"error="invalid_request""#),
        ("Authorization: Bearer key-one\r\n", 200, ""),
        ("Authorization: bearer   key-two\r\n", 200, ""),
        ("X-API-Key: key-two\r\n", 200, ""),
        ("Authorization: Bearer key-one\r\nX-API-Key: key-one\r\n", 200, ""),
    ])
    func apiKeyPaths(headers: String, status: Int, challenge: String) async throws {
        let running = try await Self.start()
        let response = try await running.get("/items/7", headers: headers)
        #expect(response.status == status)
        if status == 401 {
            #expect(response.text.contains(#""code":"UNAUTHORIZED""#))
            #expect(response.head.headers[first: "WWW-Authenticate"]?.contains(challenge) == true)
        } else {
            #expect(response.text == "7")
        }
        await running.stop()
    }

    @Test func openRoutesAndUnknownPaths() async throws {
        let running = try await Self.start()
        #expect(try await running.get("/health").status == 200)
        #expect(try await running.get("/nowhere").status == 401)
        #expect(try await running.get("/nowhere", headers: "X-API-Key: key-one\r\n").status == 404)
        #expect(try await running.get("/items/1?token=key-one").status == 401)
        await running.stop()
    }

    @Test func noKeysMeansOpen() async throws {
        let running = try await Self.start(keys: [])
        #expect(try await running.get("/items/1").status == 200)
        #expect(try await running.get("/items/1", headers: "X-API-Key: anything\r\n").status == 200)
        await running.stop()
    }

    @Test(arguments: [
        ("/ws/a", "", 401),
        ("/ws/a?token=wrong", "", 401),
        ("/ws/a?token=key-one", "", 101),
        ("/ws/a", "Authorization: Bearer key-two\r\n", 101),
        ("/ws/a?token=key-one", "X-API-Key: key-two\r\n", 401),
    ])
    func webSocketTakesTheTokenQueryParameter(target: String, headers: String, status: Int) async throws {
        let running = try await Self.start()
        let client = try await LoopbackClient.connect(
            loop: running.loop, port: running.port,
            sending: Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\(Self.upgrade)\(headers)\r\n".utf8))
        let data = try await client.receive { $0.count >= 12 }
        #expect(String(decoding: data.prefix(12), as: UTF8.self) == "HTTP/1.1 \(status)")
        try await client.close()
        await running.stop()
    }

    @Test func keysCanBeReplacedWhileRunning() async throws {
        let running = try await Self.start(keys: ["old"])
        #expect(try await running.get("/items/1", headers: "X-API-Key: old\r\n").status == 200)
        running.policy.replace(with: AccessPolicy.Rules(apiKeys: ["new"], corsOrigins: []))
        #expect(try await running.get("/items/1", headers: "X-API-Key: old\r\n").status == 401)
        #expect(try await running.get("/items/1", headers: "X-API-Key: new\r\n").status == 200)
        await running.stop()
    }

    @Test func preflightIsAnsweredWithoutAKey() async throws {
        let running = try await Self.start(origins: ["https://app.example"])
        let preflight = try await running.exchange(
            "OPTIONS /items HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
                + "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, x-api-key\r\n\r\n",
            method: .options)
        #expect(preflight.status == 204)
        #expect(preflight.head.headers[first: "Access-Control-Allow-Origin"] == "https://app.example")
        #expect(preflight.head.headers[first: "Access-Control-Allow-Methods"] == "POST, OPTIONS")
        #expect(preflight.head.headers[first: "Access-Control-Allow-Headers"] == "content-type, x-api-key")
        #expect(preflight.head.headers[first: "Access-Control-Max-Age"] == "600")
        #expect(preflight.head.headers[first: "Vary"] == "Origin")

        let refused = try await running.exchange(
            "OPTIONS /items HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n",
            method: .options)
        #expect(refused.status == 400)
        #expect(refused.head.headers[first: "Access-Control-Allow-Origin"] == nil)

        let unauthorized = try await running.get("/items/1", headers: "Origin: https://app.example\r\n")
        #expect(unauthorized.status == 401)
        #expect(unauthorized.head.headers[first: "Access-Control-Allow-Origin"] == "https://app.example")
        #expect(unauthorized.head.headers[first: "Access-Control-Expose-Headers"]?.contains("X-Request-Id") == true)

        let foreign = try await running.get(
            "/items/1", headers: "Origin: https://evil.example\r\nX-API-Key: key-one\r\n")
        #expect(foreign.status == 200)
        #expect(foreign.head.headers[first: "Access-Control-Allow-Origin"] == nil)
        await running.stop()
    }

    @Test func corsOffSendsNoCORSHeaders() async throws {
        let running = try await Self.start(keys: [])
        let options = try await running.exchange(
            "OPTIONS /items HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n\r\n",
            method: .options)
        #expect(options.status == 405)
        let plain = try await running.get("/items/1", headers: "Origin: https://app.example\r\n")
        #expect(plain.head.headers[first: "Access-Control-Allow-Origin"] == nil)
        await running.stop()
    }

    @Test func anyOriginIsAStar() async throws {
        let running = try await Self.start(keys: [], origins: ["*"])
        let response = try await running.get("/items/1", headers: "Origin: https://whoever.example\r\n")
        #expect(response.head.headers[first: "Access-Control-Allow-Origin"] == "*")
        await running.stop()
    }

    @Test func requestsAreCountedByRoutePatternMethodAndStatus() async throws {
        let running = try await Self.start()
        for id in 1...3 { _ = try await running.get("/items/\(id)", headers: "X-API-Key: key-one\r\n") }
        _ = try await running.get("/items/4")
        _ = try await running.get("/nowhere/at/all", headers: "X-API-Key: key-one\r\n")
        _ = try await running.exchange("FOO /items/1 HTTP/1.1\r\nHost: x\r\nX-API-Key: key-one\r\n\r\n")
        let metrics = running.metrics
        let label = "comfy_gateway_http_requests_total"
        #expect(
            try metrics.expectCounter(label, [("route", "/items/:id"), ("method", "GET"), ("status", "200")]).totalValue
                == 3)
        #expect(
            try metrics.expectCounter(label, [("route", "/items/:id"), ("method", "GET"), ("status", "401")]).totalValue
                == 1)
        #expect(
            try metrics.expectCounter(label, [("route", "unmatched"), ("method", "GET"), ("status", "404")]).totalValue
                == 1)
        #expect(
            try metrics.expectCounter(label, [("route", "unmatched"), ("method", "other"), ("status", "405")])
                .totalValue == 1)
        let timer = try metrics.expectTimer(
            "comfy_gateway_http_request_duration_seconds", [("route", "/items/:id"), ("method", "GET")])
        #expect(timer.values.count == 4)
        await running.stop()
    }

    @Test func accessLogRedactsTheTokenParameter() {
        #expect(AccessLogMiddleware.redacted("/ws/a?token=secret&x=1") == "/ws/a?token=REDACTED&x=1")
        #expect(AccessLogMiddleware.redacted("/ws/a?x=1&token=secret") == "/ws/a?x=1&token=REDACTED")
        #expect(AccessLogMiddleware.redacted("/ws/a?mytoken=1") == "/ws/a?mytoken=1")
        #expect(AccessLogMiddleware.redacted("/items/1") == "/items/1")
        #expect(AccessLogMiddleware.redacted("/ws/a?%74oken=secret") == "/ws/a?%74oken=REDACTED")
        #expect(AccessLogMiddleware.redacted("/ws/a?token") == "/ws/a?token=REDACTED")
    }

    @Test func protectedResponsesAreNotForSharedCaches() async throws {
        let keyed = try await Self.start()
        let response = try await keyed.get("/cached", headers: "X-API-Key: key-one\r\n")
        #expect(response.head.headers[first: "Cache-Control"] == "private, max-age=3600")
        await keyed.stop()
        let open = try await Self.start(keys: [])
        #expect(try await open.get("/cached").head.headers[first: "Cache-Control"] == "public, max-age=3600")
        await open.stop()
    }

    @Test func webSocketHandshakeErrorsAreCountedAndCarryTheRequestID() async throws {
        let running = try await Self.start(origins: ["https://app.example"])
        let bad = try await running.get(
            "/ws/a",
            headers: "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-API-Key: key-one\r\nX-Request-Id: ws-1\r\n"
                + "Origin: https://app.example\r\n")
        #expect(bad.status == 426)
        #expect(bad.head.headers[first: "Sec-WebSocket-Version"] == "13")
        #expect(bad.head.headers[first: "X-Request-Id"] == "ws-1")
        #expect(bad.head.headers[first: "Access-Control-Allow-Origin"] == "https://app.example")
        let client = try await LoopbackClient.connect(
            loop: running.loop, port: running.port,
            sending: Array("GET /ws/a HTTP/1.1\r\nHost: x\r\n\(Self.upgrade)X-API-Key: key-one\r\n\r\n".utf8))
        let data = try await client.receive { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }
        #expect(String(decoding: data, as: UTF8.self).contains("X-Request-Id: "))
        try await client.close()
        let label = "comfy_gateway_http_requests_total"
        #expect(
            try running.metrics.expectCounter(label, [("route", "/ws/:id"), ("method", "GET"), ("status", "426")])
                .totalValue == 1)
        #expect(
            try running.metrics.expectCounter(label, [("route", "/ws/:id"), ("method", "GET"), ("status", "101")])
                .totalValue == 1)
        await running.stop()
    }

    @Test func corsResponsesVaryByOriginEvenWithoutOne() async throws {
        let running = try await Self.start(keys: [], origins: ["https://app.example"])
        #expect(try await running.get("/items/1").head.headers[first: "Vary"] == "Origin")
        await running.stop()
    }
}
