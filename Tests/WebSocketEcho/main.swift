// A test-only WebSocket echo server on our Routing stack, for the independent conformance clients
// (Python websockets, the Autobahn testsuite): `websocket-echo PORT` serves /echo on 127.0.0.1
// and exits on SIGTERM or SIGINT.
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
