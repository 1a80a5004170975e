import Codecs
import Testing

/// The opening handshake: the RFC's sample key, request validation, subprotocols, the client side.
struct WebSocketHandshakeTests {
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

    static func upgrade(_ fields: [(String, String)], method: HTTPMethod = .get, version: HTTPVersion = .http1_1)
        -> HTTPRequestHead
    {
        HTTPRequestHead(method: method, target: "/api/v1/ws/abc", version: version, headers: HTTPHeaders(fields))
    }

    static let valid: [(String, String)] = [
        ("Host", "gw"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", sampleKey), ("Sec-WebSocket-Version", "13"),
    ]

    @Test func rfcSampleAcceptKey() {
        #expect(WebSocketHandshake.acceptValue(forKey: Self.sampleKey) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func validRequestIsAccepted() throws {
        let response = try WebSocketHandshake.accept(Self.upgrade(Self.valid))
        #expect(response.status == 101)
        #expect(response.headers[first: "Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(response.headers[first: "Upgrade"] == "websocket")
        #expect(response.headers[first: "Sec-WebSocket-Protocol"] == nil)
    }

    @Test func firstSupportedSubprotocolIsChosen() throws {
        let response = try WebSocketHandshake.accept(
            Self.upgrade(Self.valid + [("Sec-WebSocket-Protocol", "chat.v2, comfy.v1, chat.v1")]),
            supportedProtocols: ["comfy.v1", "chat.v1"])
        #expect(response.headers[first: "Sec-WebSocket-Protocol"] == "comfy.v1")
    }

    @Test func invalidRequestsAreRefused() {
        func refusal(_ head: HTTPRequestHead) -> WebSocketHandshake.Rejection? {
            do {
                _ = try WebSocketHandshake.accept(head)
                return nil
            } catch {
                return error
            }
        }
        let without = { (name: String) in Self.valid.filter { $0.0 != name } }
        #expect(refusal(Self.upgrade(Self.valid, method: .post))?.status == 400)
        #expect(refusal(Self.upgrade(Self.valid, version: .http1_0))?.status == 400)
        #expect(refusal(Self.upgrade(without("Upgrade")))?.status == 400)
        #expect(refusal(Self.upgrade(without("Connection") + [("Connection", "keep-alive")]))?.status == 400)
        #expect(refusal(Self.upgrade(without("Sec-WebSocket-Key")))?.status == 400)
        #expect(
            refusal(Self.upgrade(without("Sec-WebSocket-Key") + [("Sec-WebSocket-Key", "c2hvcnQ=")]))?.status == 400)
        #expect(
            refusal(Self.upgrade(without("Sec-WebSocket-Key") + [("Sec-WebSocket-Key", "not base64!")]))?.status == 400)
        #expect(
            refusal(Self.upgrade(without("Sec-WebSocket-Version") + [("Sec-WebSocket-Version", "8")]))
                == .unsupportedVersion)
        #expect(refusal(Self.upgrade(without("Sec-WebSocket-Version"))) == .unsupportedVersion)
    }

    @Test func clientRequestAndResponseCheck() throws {
        let key = WebSocketHandshake.makeKey()
        #expect(key.count == 24)
        #expect(key != WebSocketHandshake.makeKey())
        let request = WebSocketHandshake.request(
            target: "/ws?clientId=gw", host: "127.0.0.1:8188", key: key, protocols: ["comfy.v1"])
        #expect(request.headers[first: "Origin"] == nil, "ComfyUI rejects a mismatched Origin: none unless asked")
        let response = try WebSocketHandshake.accept(request, supportedProtocols: ["comfy.v1"])
        #expect(try WebSocketHandshake.validate(response, key: key, protocols: ["comfy.v1"]) == "comfy.v1")
        #expect(throws: WebSocketHandshake.Rejection.self) {
            _ = try WebSocketHandshake.validate(response, key: WebSocketHandshake.makeKey(), protocols: ["comfy.v1"])
        }
        #expect(throws: WebSocketHandshake.Rejection.self) {
            _ = try WebSocketHandshake.validate(HTTPResponseHead(status: 200), key: key)
        }
    }
}
