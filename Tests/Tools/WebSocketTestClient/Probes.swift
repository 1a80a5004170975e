import Client
import Codecs
import Reactor

/// What one run of the client does against a server; each prints lines the test checks.
enum Probe {
    /// Echo every message back; print how the server closed.
    case echo(url: String)
    /// Send text and binary messages of every length form, expect each echoed unchanged.
    case sizes(url: String)
    /// Close at once with `code` and `reason`; print how the server answered.
    case close(url: String, code: UInt16, reason: String)

    /// The lengths that exercise the 7-, 16- and 64-bit length forms and their edges.
    static let sizes = [0, 125, 126, 65535, 65536, 1 << 20]

    func run(loop: EventLoop) async throws {
        var options = WebSocketClient.Options()
        options.maxMessageSize = 4 << 20
        switch self {
        case .echo(let url):
            let client = try await WebSocketClient.connect(to: url, loop: loop, options: options)
            await echoMessages(client)
            report(client)
        case .sizes(let url):
            let client = try await WebSocketClient.connect(to: url, loop: loop, options: options)
            var messages = client.messages.makeAsyncIterator()
            for size in Self.sizes {
                let text = String(repeating: "é", count: size / 2) + (size % 2 == 1 ? "a" : "")
                try await client.send(text: text)
                print(await messages.next() == .text(text) ? "echoed text \(size)" : "mismatch text \(size)")
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) }
                try await client.send(binary: bytes)
                print(await messages.next() == .binary(bytes) ? "echoed binary \(size)" : "mismatch binary \(size)")
            }
            client.close(code: 1000, reason: "done")
            while await messages.next() != nil {}
            report(client)
        case .close(let url, let code, let reason):
            let client = try await WebSocketClient.connect(to: url, loop: loop, options: options)
            client.close(code: code, reason: reason)
            for await _ in client.messages {}
            report(client)
        }
    }

    private func report(_ client: WebSocketClient) {
        let close = client.peerClose ?? (1006, "")
        print("closed \(close.code) \(close.reason)")
    }
}
