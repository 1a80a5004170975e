import Client
import Codecs
import Reactor

/// Runs every case of the Autobahn testsuite's fuzzingserver on `port` (echoing what the server
/// sends), then asks it to write its report.
func runAutobahn(port: Int, loop: EventLoop) async throws {
    let base = "ws://127.0.0.1:\(port)"
    var options = WebSocketClient.Options()
    options.maxMessageSize = 64 * 1024 * 1024
    let counter = try await WebSocketClient.connect(to: "\(base)/getCaseCount", loop: loop)
    var count = 0
    for await message in counter.messages {
        if case .text(let text) = message { count = Int(text) ?? 0 }
    }
    for index in 1...max(count, 1) where count > 0 {
        guard
            let client = try? await WebSocketClient.connect(
                to: "\(base)/runCase?case=\(index)&agent=comfy-gateway", loop: loop, options: options)
        else { continue }
        await echoMessages(client)
    }
    let report = try await WebSocketClient.connect(to: "\(base)/updateReports?agent=comfy-gateway", loop: loop)
    for await _ in report.messages {}
}

/// Sends every message back until the connection ends.
func echoMessages(_ client: WebSocketClient) async {
    for await message in client.messages {
        switch message {
        case .text(let text): try? await client.send(text: text)
        case .binary(let bytes): try? await client.send(binary: bytes)
        }
    }
}
