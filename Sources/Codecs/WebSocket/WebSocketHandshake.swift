import Crypto
import FoundationEssentials

/// The opening handshake of RFC 6455 section 4, for both roles: validating a client's upgrade
/// request and computing `Sec-WebSocket-Accept` (server), or building the request and checking
/// the server's 101 (client).
package enum WebSocketHandshake {
    /// The GUID appended to the key before hashing (RFC 6455 section 1.3).
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Why an upgrade request is refused, with the status to answer.
    package enum Rejection: Error, Sendable, Equatable {
        /// Not a valid WebSocket upgrade (method, version, headers, key): 400.
        case badRequest(String)
        /// A WebSocket version other than 13: 426 with `Sec-WebSocket-Version: 13`.
        case unsupportedVersion

        package var status: Int {
            switch self {
            case .badRequest: 400
            case .unsupportedVersion: 426
            }
        }

        package var message: String {
            switch self {
            case .badRequest(let reason): "Invalid WebSocket upgrade: \(reason)."
            case .unsupportedVersion: "Only WebSocket version 13 is supported."
            }
        }
    }

    /// `Sec-WebSocket-Accept` for a client's key: base64(SHA-1(key + GUID)).
    package static func acceptValue(forKey key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key + guid).utf8))
        return Data(digest).base64EncodedString()
    }

    /// True when `head` asks for a WebSocket upgrade (whether or not it is a valid one).
    package static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        head.headers.tokens("Upgrade").contains("websocket")
    }

    /// Validates a client's upgrade request. Returns the `101 Switching Protocols` head to send,
    /// choosing the first offered subprotocol that `supportedProtocols` contains.
    package static func accept(
        _ head: HTTPRequestHead, supportedProtocols: [String] = []
    ) throws(Rejection) -> HTTPResponseHead {
        guard head.method == .get else { throw .badRequest("the method must be GET") }
        guard head.version == .http1_1 else { throw .badRequest("the request must be HTTP/1.1") }
        guard head.framing == .none else { throw .badRequest("an upgrade request has no body") }
        guard isUpgradeRequest(head) else { throw .badRequest("Upgrade must include websocket") }
        guard head.headers.tokens("Connection").contains("upgrade") else {
            throw .badRequest("Connection must include upgrade")
        }
        guard head.headers.count(of: "Sec-WebSocket-Version") == 1, head.headers[first: "Sec-WebSocket-Version"] == "13"
        else { throw .unsupportedVersion }
        guard head.headers.count(of: "Sec-WebSocket-Key") == 1, let key = head.headers[first: "Sec-WebSocket-Key"],
            let decoded = Data(base64Encoded: key), decoded.count == 16
        else { throw .badRequest("Sec-WebSocket-Key must be 16 bytes in base64") }
        var headers = HTTPHeaders()
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Accept", value: acceptValue(forKey: key))
        let offered = head.headers[all: "Sec-WebSocket-Protocol"].flatMap { $0.split(separator: ",") }.map {
            String($0.trimmingWhitespace())
        }
        if let chosen = offered.first(where: supportedProtocols.contains) {
            headers.add(name: "Sec-WebSocket-Protocol", value: chosen)
        }
        return HTTPResponseHead(status: 101, headers: headers)
    }

    /// A fresh client key: 16 random bytes in base64.
    package static func makeKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
    }

    /// The client's upgrade request for `target` on `host`. No `Origin` is sent unless given.
    package static func request(
        target: String, host: String, key: String, protocols: [String] = [], origin: String? = nil,
        extraHeaders: HTTPHeaders = HTTPHeaders()
    ) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Key", value: key)
        headers.add(name: "Sec-WebSocket-Version", value: "13")
        if !protocols.isEmpty { headers.add(name: "Sec-WebSocket-Protocol", value: protocols.joined(separator: ", ")) }
        if let origin { headers.add(name: "Origin", value: origin) }
        for field in extraHeaders { headers.add(name: field.name, value: field.value) }
        return HTTPRequestHead(method: .get, target: target, headers: headers)
    }

    /// Checks the server's answer to a client upgrade (RFC 6455 section 4.1); returns the chosen
    /// subprotocol, if any.
    package static func validate(
        _ response: HTTPResponseHead, key: String, protocols: [String] = []
    ) throws(Rejection) -> String? {
        guard response.status == 101 else { throw .badRequest("the server answered \(response.status), not 101") }
        guard response.headers.tokens("Upgrade").contains("websocket") else {
            throw .badRequest("the response lacks Upgrade: websocket")
        }
        guard response.headers.tokens("Connection").contains("upgrade") else {
            throw .badRequest("the response lacks Connection: upgrade")
        }
        guard response.headers[first: "Sec-WebSocket-Accept"] == acceptValue(forKey: key) else {
            throw .badRequest("Sec-WebSocket-Accept does not match the key")
        }
        guard let chosen = response.headers[first: "Sec-WebSocket-Protocol"] else { return nil }
        guard protocols.contains(chosen) else {
            throw .badRequest("the server chose a subprotocol that was not offered")
        }
        return chosen
    }
}
