// A test-only WebSocket server on our Routing stack: `websocket-echo PORT` serves, on 127.0.0.1,
// /echo (for the conformance clients: Python websockets, the Autobahn testsuite) and /broadcast
// (for the benchmark: a text "start COUNT SIZE" from any client sends COUNT messages of SIZE bytes
// to every connected client back to back, as the Node.js server does; "paced COUNT SIZE" sends
// one broadcast per loop iteration, the way events arriving one by one from an upstream socket
// would. Each message starts with its send time in CLOCK_MONOTONIC nanoseconds).
// It exits on SIGTERM or SIGINT.
import Codecs
import Glibc
import Logging
import Reactor
import Routing

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0
let loop = try EventLoop()
loop.start()
let router = RouterBuilder()
router.webSocket("/echo", configuration: WebSocketConfiguration(maxMessageSize: 16 * 1024 * 1024)) { socket, _, _ in
    for await message in socket.messages {
        switch message {
        case .text(let text): try await socket.send(text: text)
        case .binary(let bytes): try await socket.send(binary: bytes)
        }
    }
}
/// The sockets connected to /broadcast; touched only on the loop.
final class Hub: @unchecked Sendable {
    var sockets: [ObjectIdentifier: WebSocket] = [:]
}
let hub = Hub()

func monotonicStamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let digits = String(Int(now.tv_sec) * 1_000_000_000 + Int(now.tv_nsec))
    return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
}

router.webSocket("/broadcast") { socket, _, _ in
    hub.sockets[ObjectIdentifier(socket)] = socket
    defer { hub.sockets[ObjectIdentifier(socket)] = nil }
    for await message in socket.messages {
        guard case .text(let text) = message else { continue }
        let words = text.split(separator: " ")
        guard words.count == 3, words[0] == "start" || words[0] == "paced", let count = Int(words[1]),
            let size = Int(words[2])
        else { continue }
        for _ in 0..<count {
            let stamp = monotonicStamp()
            let message = PreparedMessage(text: stamp + String(repeating: "x", count: max(0, size - stamp.count)))
            for peer in hub.sockets.values { try? await peer.send(message) }
            if words[0] == "paced" { await loop.sleep(milliseconds: 0) }
        }
    }
}

let server = HTTPServer(
    loop: loop, configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port, maxBodyBytes: 1024),
    router: router.freeze(), logger: Logger(label: "websocket-echo"))
_ = try await server.start()
let (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
try await loop.submit {
    for number in [SIGTERM, SIGINT] { _ = try SignalWatcher(loop: loop, signal: number) { continuation.yield($0) } }
}
for await _ in signals { break }
await server.shutdown()
loop.shutdown()
