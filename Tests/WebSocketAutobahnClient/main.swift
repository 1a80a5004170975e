// Drives our WebSocket client against the Autobahn testsuite's fuzzingserver:
// `websocket-autobahn-client PORT` runs every case (echoing what the server sends), then asks
// the fuzzingserver to write its report.
import Client
import Reactor

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 9001 : 9001
let base = "ws://127.0.0.1:\(port)"
let loop = try EventLoop()
loop.start()
var options = WebSocketClient.Options()
options.maxMessageSize = 64 * 1024 * 1024

// The client is loop-bound: everything runs in a task whose executor is the loop.
try await Task(executorPreference: loop) {
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
        for await message in client.messages {
            switch message {
            case .text(let text): try? await client.send(text: text)
            case .binary(let bytes): try? await client.send(binary: bytes)
            }
        }
    }
    let report = try await WebSocketClient.connect(to: "\(base)/updateReports?agent=comfy-gateway", loop: loop)
    for await _ in report.messages {}
}.value
loop.shutdown()
