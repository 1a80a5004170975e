import Client
import Codecs
import Logging
import Reactor
import Routing
import Synchronization
import Testing

/// Our WebSocket client against our server over real loopback sockets: echo of every length
/// form, subprotocols, no Origin, backpressure on unread messages, and the ways a connection
/// can fail.
struct WebSocketClientTests {
    static func server(routes: (RouterBuilder) -> Void = { _ in }) async throws -> (EventLoop, HTTPServer, Int) {
        let loop = try EventLoop()
        loop.start()
        let router = RouterBuilder()
        routes(router)
        router.get("/plain") { _, _ in Response(status: 200) }
        router.webSocket("/echo", configuration: WebSocketConfiguration(protocols: ["echo.v1"])) { socket, request, _ in
            try await socket.send(text: request.headers[first: "Origin"] ?? "no origin")
            for await message in socket.messages {
                switch message {
                case .text(let text): try await socket.send(text: text)
                case .binary(let bytes): try await socket.send(binary: bytes)
                }
            }
        }
        let server = HTTPServer(
            loop: loop, configuration: HTTPServerConfiguration(), router: router.freeze(), logger: Logger(label: "test")
        )
        return (loop, server, try await server.start())
    }

    @Test func echoesEveryLengthFormAndSendsNoOrigin() async throws {
        let (loop, server, port) = try await Self.server()
        try await Task(executorPreference: loop) {
            var options = WebSocketClient.Options()
            options.protocols = ["echo.v1"]
            let client = try await WebSocketClient.connect(
                to: "ws://127.0.0.1:\(port)/echo?x=1", loop: loop, options: options)
            #expect(client.subprotocol == "echo.v1")
            var iterator = client.messages.makeAsyncIterator()
            #expect(await iterator.next() == .text("no origin"))
            for size in [0, 125, 126, 65535, 65536, 1 << 20] {
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
                try await client.send(binary: bytes)
                #expect(await iterator.next() == .binary(bytes), "size \(size)")
            }
            try await client.send(text: "κόσμε")
            #expect(await iterator.next() == .text("κόσμε"))
            client.close(code: 1000)
            #expect(await iterator.next() == nil)
            #expect(client.peerClose?.code == 1000)
        }.value
        await server.shutdown()
        loop.shutdown()
    }

    @Test func preparedMessagesArriveLikeOrdinaryOnes() async throws {
        let (loop, server, port) = try await Self.server { router in
            router.webSocket("/prepared") { socket, _, _ in
                try await socket.send(PreparedMessage(text: "prepared κόσμε"))
                try await socket.send(PreparedMessage(binary: [UInt8](repeating: 9, count: 70_000)))
                socket.close(code: 4000, reason: "done")
                for await _ in socket.messages {}
            }
        }
        try await Task(executorPreference: loop) {
            let client = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/prepared", loop: loop)
            var iterator = client.messages.makeAsyncIterator()
            #expect(await iterator.next() == .text("prepared κόσμε"))
            #expect(await iterator.next() == .binary([UInt8](repeating: 9, count: 70_000)))
            #expect(await iterator.next() == nil)
            #expect(client.peerClose?.code == 4000)
        }.value
        await server.shutdown()
        loop.shutdown()
    }

    @Test func failures() async throws {
        let (loop, server, port) = try await Self.server()
        try await Task(executorPreference: loop) {
            await #expect(throws: WebSocketClient.Failure.invalidURL("only ws:// URLs are supported: http://x")) {
                _ = try await WebSocketClient.connect(to: "http://x", loop: loop)
            }
            await #expect {
                _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/plain", loop: loop)
            } throws: { error in
                if case .handshakeFailed = error as? WebSocketClient.Failure { return true }
                return false
            }
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
            let silentPort = listener.localPort
            var options = WebSocketClient.Options()
            options.handshakeTimeout = .seconds(1)
            await #expect(throws: WebSocketClient.Failure.timedOut) {
                _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(silentPort)/", loop: loop, options: options)
            }
            listener.stopAccepting()
        }.value
        await server.shutdown()
        loop.shutdown()
    }

    /// How far the sender got; shared by the test's tasks.
    final class Progress: Sendable {
        let sent = Mutex(0)
    }

    @Test func unreadMessagesStopTheServerFromReading() async throws {
        let (gate, openGate) = AsyncStream.makeStream(of: Void.self)
        let limit = 64 * 1024
        let (loop, server, port) = try await Self.server { router in
            router.webSocket("/hold", configuration: WebSocketConfiguration(maxUnreadBytes: limit)) { socket, _, _ in
                for await _ in gate { break }
                let waiting = socket.messages.waitingBytes
                var count = 0
                for await message in socket.messages {
                    guard message == .binary([UInt8](repeating: UInt8(count % 251), count: 16 * 1024)) else { break }
                    count += 1
                    if count == 1024 { break }
                }
                try await socket.send(text: "\(waiting) \(count)")
            }
        }
        try await Task(executorPreference: loop) {
            let client = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/hold", loop: loop)
            let progress = Progress()
            // 16 MiB in 16 KiB messages, more than the kernel's socket buffers hold on loopback.
            let bound = LoopBound(client, loop: loop)
            let sender = Task(executorPreference: loop) {
                for index in 0..<1024 {
                    try await bound.value.send(binary: [UInt8](repeating: UInt8(index % 251), count: 16 * 1024))
                    progress.sent.withLock { $0 = index + 1 }
                }
            }
            var last = -1
            while case let sent = progress.sent.withLock({ $0 }), sent != last, sent < 1024 {
                last = sent
                await loop.sleep(milliseconds: 300)
            }
            openGate.yield()
            try await sender.value
            var replies = client.messages.makeAsyncIterator()
            let reply = await replies.next()
            guard case .text(let text) = reply, let waiting = Int(text.split(separator: " ")[0]) else {
                Issue.record("no reply: \(String(describing: reply))")
                return
            }
            #expect(text.hasSuffix(" 1024"), "every message arrives, in order")
            // Reading stops once the limit is passed; one read (64 KiB) can overshoot it.
            #expect(waiting <= limit + 64 * 1024 + 16 * 1024 + 64, "unread bytes were \(waiting)")
            client.close()
        }.value
        await server.shutdown()
        loop.shutdown()
    }
}
