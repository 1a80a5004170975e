import Codecs
import Logging
import Routing
import Testing

/// The frozen trie router: constants, captures, precedence, 404 and 405, HEAD via GET.
struct RouterTests {
    static func responder(_ name: String) -> Responder {
        { _, context in
            Response(
                status: 200,
                headers: [
                    "X-Route": name,
                    "X-Params": context.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(
                        separator: ","),
                ])
        }
    }

    static func router() -> Router {
        let builder = RouterBuilder()
        builder.get("/health", handler: responder("health"))
        builder.get("/api/v1/workflows/:prompt_id/history", handler: responder("history"))
        builder.get("/api/v1/workflows/:prompt_id/images", handler: responder("images"))
        builder.post("/api/v1/workflows/submit", handler: responder("submit"))
        builder.get("/api/v1/workflows/latest/history", handler: responder("latest"))
        builder.on(.delete, "/items/:id", handler: responder("delete"))
        return builder.freeze()
    }

    func call(_ method: HTTPMethod, _ path: String) async throws -> Response {
        let match = Self.router().match(method: method, path: path[...])
        let context = RequestContext(requestID: "t", logger: Logger(label: "test"), parameters: match.parameters)
        return try await match.responder(Request(head: HTTPRequestHead(method: method, target: path)), context)
    }

    @Test func constantRoute() async throws {
        let response = try await call(.get, "/health")
        #expect(response.headers[first: "X-Route"] == "health")
    }

    @Test func captureSegment() async throws {
        let response = try await call(.get, "/api/v1/workflows/abc-123/history")
        #expect(response.headers[first: "X-Route"] == "history")
        #expect(response.headers[first: "X-Params"] == "prompt_id=abc-123")
    }

    @Test func capturesArePercentDecoded() async throws {
        let response = try await call(.get, "/api/v1/workflows/a%20b+c/images")
        #expect(response.headers[first: "X-Params"] == "prompt_id=a b+c")
    }

    @Test func constantBeatsCapture() async throws {
        #expect(try await call(.get, "/api/v1/workflows/latest/history").headers[first: "X-Route"] == "latest")
        #expect(try await call(.get, "/api/v1/workflows/other/history").headers[first: "X-Route"] == "history")
    }

    @Test func backtracksFromAConstantDeadEnd() async throws {
        #expect(try await call(.get, "/api/v1/workflows/latest/images").headers[first: "X-Route"] == "images")
    }

    @Test func unknownPathIs404() async throws {
        let response = try await call(.get, "/api/v1/nothing")
        #expect(response.status == 404)
        guard case .bytes(let body) = response.body else { Issue.record("no body"); return }
        #expect(String(decoding: body, as: UTF8.self).contains("\"code\":\"NOT_FOUND\""))
    }

    @Test func partialPathIs404() async throws {
        #expect(try await call(.get, "/api/v1/workflows").status == 404)
        #expect(try await call(.get, "/api/v1/workflows/x/history/extra").status == 404)
    }

    @Test func wrongMethodIs405WithAllow() async throws {
        let response = try await call(.post, "/health")
        #expect(response.status == 405)
        #expect(response.headers[first: "Allow"] == "GET, HEAD")
        guard case .bytes(let body) = response.body else { Issue.record("no body"); return }
        #expect(String(decoding: body, as: UTF8.self).contains("\"code\":\"METHOD_NOT_ALLOWED\""))
        #expect(try await call(.get, "/items/3").headers[first: "Allow"] == "DELETE")
    }

    @Test func headUsesGet() async throws {
        #expect(try await call(.head, "/health").headers[first: "X-Route"] == "health")
    }

    @Test func trailingSlashMatchesTheSameRoute() async throws {
        #expect(try await call(.get, "/health/").headers[first: "X-Route"] == "health")
    }

    @Test func middlewareWrapsOnlyLaterRoutes() async throws {
        struct Tag: Middleware {
            func finish(_ request: Request, context: RequestContext, response: inout Response) {
                response.headers.add(name: "X-Tag", value: "yes")
            }
        }
        let builder = RouterBuilder()
        builder.get("/before", handler: Self.responder("before"))
        builder.add(middleware: Tag())
        builder.get("/after", handler: Self.responder("after"))
        let router = builder.freeze()
        let context = RequestContext(requestID: "t", logger: Logger(label: "test"))
        let before = try await router.match(method: .get, path: "/before").responder(
            Request(head: HTTPRequestHead(method: .get, target: "/before")), context)
        let after = try await router.match(method: .get, path: "/after").responder(
            Request(head: HTTPRequestHead(method: .get, target: "/after")), context)
        #expect(before.headers[first: "X-Tag"] == nil)
        #expect(after.headers[first: "X-Tag"] == "yes")
    }

    @Test func routeBodyLimitIsReported() {
        let builder = RouterBuilder()
        builder.post("/upload", maxBodyBytes: 10, handler: Self.responder("upload"))
        builder.post("/other", handler: Self.responder("other"))
        let router = builder.freeze()
        #expect(router.match(method: .post, path: "/upload").maxBodyBytes == 10)
        #expect(router.match(method: .post, path: "/other").maxBodyBytes == nil)
    }

    @Test func requestIDIsEchoedOnlyWhenSane() {
        #expect(RequestIDMiddleware.isSane("abc-123_x.y:z"))
        #expect(!RequestIDMiddleware.isSane(""))
        #expect(!RequestIDMiddleware.isSane("a b"))
        #expect(!RequestIDMiddleware.isSane(String(repeating: "a", count: 129)))
        #expect(RequestIDGenerator.make() != RequestIDGenerator.make())
        #expect(RequestIDGenerator.make().count == 32)
    }

    @Test func requestIDsAre32LowercaseHexDigitsWithOneProcessPrefix() {
        let ids = (0..<2000).map { _ in RequestIDGenerator.make() }
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids.map { $0.prefix(16) }).count == 1)
        for id in ids {
            #expect(
                id.utf8.count == 32 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        }
        // Leading zeros are kept: over 2,000 ids some 8-digit half starts with 0.
        #expect(ids.contains { $0.dropFirst(16).hasPrefix("0") || $0.dropFirst(24).hasPrefix("0") })
    }

    @Test func queryParametersAreDecoded() {
        let request = Request(
            head: HTTPRequestHead(method: .get, target: "/d?filename=a%2Fb.png&subfolder=&type=output&x=1+2"))
        #expect(request.queryParameters == ["filename": "a/b.png", "subfolder": "", "type": "output", "x": "1 2"])
    }
}
