import AtomComfyHTTP
import AtomComfySocket
import Client
import Codecs
import ComfyEmulatorSupport
import Models
import Reactor
import Testing

/// The socket atom end to end against the emulator: a run's events in ComfyUI's order, previews
/// of both binary kinds, and reconnection with a new client id after dropped sockets and a restart.
struct ComfySocketTests {
    /// Runs `body` with a running socket and an HTTP atom for a fresh emulator, then stops all.
    static func withSocket(
        negotiate: Bool = true, maxUnreadEventBytes: Int = 4 << 20, clientID: String? = nil,
        _ body:
            @escaping @Sendable (ComfySocket, EventIterator, ComfyAPI, ComfyEmulator, EventLoop) async throws -> Void
    ) async throws {
        let emulator = try await ComfyEmulator.start()
        defer { emulator.stop() }
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        try await Task(executorPreference: loop) {
            var configuration = ComfySocket.Configuration(host: "127.0.0.1", port: emulator.port)
            configuration.negotiatePreviewMetadata = negotiate
            configuration.initialBackoff = .milliseconds(50)
            configuration.maxUnreadEventBytes = maxUnreadEventBytes
            configuration.clientID = clientID
            let socket = ComfySocket(loop: loop, configuration: configuration)
            let runner = Task(executorPreference: loop) { await socket.run() }
            let client = HTTPClient(loop: loop, configuration: emulator.clientConfiguration)
            defer { client.shutdown() }
            do {
                try await body(
                    socket, EventIterator(socket.events.makeAsyncIterator()), ComfyAPI(client: client), emulator, loop)
            } catch {
                socket.stop()
                await runner.value
                throw error
            }
            socket.stop()
            await runner.value
        }.value
    }

    /// Reads events with a deadline so a missing one fails the test instead of hanging it.
    final class EventIterator: @unchecked Sendable {
        var iterator: MessageInbox<ComfySocket.Event>.Iterator
        init(_ iterator: MessageInbox<ComfySocket.Event>.Iterator) { self.iterator = iterator }

        func next() async -> ComfySocket.Event? { await iterator.next() }

        /// Skips events until one matches; returns it and those skipped.
        func until(_ matches: (ComfySocket.Event) -> Bool) async -> (ComfySocket.Event?, [ComfySocket.Event]) {
            var skipped: [ComfySocket.Event] = []
            while let event = await next() {
                if matches(event) { return (event, skipped) }
                skipped.append(event)
            }
            return (nil, skipped)
        }
    }

    static func connectedID(_ event: ComfySocket.Event?) -> String? {
        if case .connected(let id)? = event { return id }
        return nil
    }

    /// A short name for an event, to compare sequences.
    static func name(_ event: ComfySocket.Event) -> String {
        switch event {
        case .connected: "connected"
        case .connectFailed: "connect_failed"
        case .disconnected: "disconnected"
        case .barrier(let token): "barrier(\(token))"
        case .message(let message, _):
            switch message {
            case .status: "status"
            case .executionStart: "execution_start"
            case .executionCached: "execution_cached"
            case .executing(_, let node, _, _): "executing(\(node ?? "null"))"
            case .progress: "progress"
            case .progressState: "progress_state"
            case .executed(_, let node, _, _): "executed(\(node))"
            case .executionSuccess: "execution_success"
            case .executionError: "execution_error"
            case .executionInterrupted: "execution_interrupted"
            case .featureFlags: "feature_flags"
            case .other(let type, _): type
            case .preview: "preview"
            case .previewWithMetadata: "preview_with_metadata"
            case .text: "text"
            case .binary: "binary"
            }
        }
    }

    static let emptySave: JSONValue = [
        "1": ["class_type": "EmptyImage", "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": 0]],
        "2": ["class_type": "SaveImage", "inputs": ["images": ["1", 0], "filename_prefix": "socket"]],
    ]

    static func isDone(_ promptID: String) -> (ComfySocket.Event) -> Bool {
        { event in
            if case .message(.executing(promptID, nil, _, _), _) = event { return true }
            return false
        }
    }

    /// The lag a burst of large results causes, made on purpose: nobody reads the events while a
    /// run ends, so they wait in the socket's queues and the kernel. A barrier asked for after
    /// ComfyUI's history shows the run done still comes after every event of the run.
    @Test func aBarrierComesAfterEverythingComfyUISentBeforeIt() async throws {
        try await Self.withSocket(maxUnreadEventBytes: 2048) { socket, events, api, _, loop in
            let id = try #require(Self.connectedID(await events.next()))
            let workflow: JSONValue = [
                "1": ["class_type": "EmptyImage", "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": 7]],
                "2": ["class_type": "SlowProgress", "inputs": ["image": ["1", 0], "steps": 60, "delay_ms": 1]],
                "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "barrier"]],
            ]
            let submitted = try await api.submit(workflow: workflow, clientID: id)
            var finished = false
            for _ in 0..<500 where !finished {
                finished = try await api.history(promptID: submitted.promptID) != nil
                if !finished { await loop.sleep(milliseconds: 10) }
            }
            try #require(finished)
            #expect(await socket.requestBarrier(42))
            // The pong comes back while the run's events still wait unread, as under real lag.
            await loop.sleep(milliseconds: 300)
            let (barrier, before) = await events.until { if case .barrier = $0 { true } else { false } }
            #expect(barrier == .barrier(42))
            let names = before.map(Self.name)
            #expect(names.filter { $0 == "progress" }.count >= 60, "every progress of the run came first")
            #expect(names.contains("executing(null)"))
        }
    }

    @Test func withoutAConnectionNoBarrierIsPromised() async throws {
        try await Self.withSocket { socket, events, _, emulator, loop in
            #expect(Self.connectedID(await events.next()) != nil)
            socket.stop()
            _ = await events.until { if case .disconnected = $0 { true } else { false } }
            #expect(await !socket.requestBarrier(7))
            _ = emulator
            _ = loop
        }
    }

    @Test func aRunArrivesInComfyUIsOrder() async throws {
        try await Self.withSocket(negotiate: false) { socket, events, api, _, _ in
            let id = Self.connectedID(await events.next())
            #expect(id != nil && id == socket.clientID)
            guard case .message(.status(_, let sid, _), _)? = await events.next() else {
                Issue.record("the first frame is not status")
                return
            }
            #expect(sid == id, "ComfyUI registered our fresh client id")
            let submitted = try await api.submit(workflow: Self.emptySave, clientID: id ?? "")
            let (done, before) = await events.until(Self.isDone(submitted.promptID))
            #expect(done != nil)
            let names = before.map(Self.name).filter { $0 != "progress_state" && $0 != "status" }
            #expect(
                names == [
                    "execution_start", "execution_cached", "executing(1)", "executing(2)", "executed(2)",
                    "execution_success",
                ])
            #expect(before.filter { Self.name($0) == "status" }.count >= 2)
        }
    }

    @Test(arguments: [true, false])
    func previewsArriveAsBinaryEvents(negotiate: Bool) async throws {
        try await Self.withSocket(negotiate: negotiate) { _, events, api, _, _ in
            let id = try #require(Self.connectedID(await events.next()), "the socket connects")
            if negotiate {
                _ = await events.until { if case .message(.featureFlags, _) = $0 { true } else { false } }
            }
            let workflow: JSONValue = [
                "1": ["class_type": "EmptyImage", "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": 0]],
                "2": [
                    "class_type": "SlowProgress",
                    "inputs": ["image": ["1", 0], "steps": 2, "delay_ms": 10, "preview": true],
                ],
                "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "preview"]],
            ]
            let submitted = try await api.submit(workflow: workflow, clientID: id)
            let (_, before) = await events.until(Self.isDone(submitted.promptID))
            var previews = 0
            for event in before {
                switch event {
                case .message(.preview(let format, let image), _):
                    #expect(!negotiate && format == 1 && image.starts(with: [0xFF, 0xD8]))
                    previews += 1
                case .message(let preview, _):
                    guard case .previewWithMetadata(let metadata, _) = preview else { break }
                    #expect(negotiate && metadata["prompt_id"] == .string(submitted.promptID))
                    #expect(preview.previewImage?.starts(with: [0xFF, 0xD8]) == true)
                    previews += 1
                default:
                    break
                }
            }
            #expect(previews == 2)
        }
    }

    @Test func droppedSocketsReconnectWithANewClientID() async throws {
        try await Self.withSocket { _, events, _, emulator, loop in
            let first = Self.connectedID(await events.next())
            try await emulator.control("drop_sockets", json: [:], loop: loop)
            let (reconnected, between) = await events.until { Self.connectedID($0) != nil }
            #expect(between.contains { if case .disconnected(first ?? "", _) = $0 { true } else { false } })
            let second = Self.connectedID(reconnected)
            #expect(second != nil && second != first)
        }
    }

    /// With a fixed id, a prompt submitted before a drop keeps reporting to the new connection.
    @Test func aFixedClientIDSurvivesADropAndTheRunKeepsReporting() async throws {
        try await Self.withSocket(clientID: "gateway-fixed") { _, events, api, emulator, loop in
            #expect(Self.connectedID(await events.next()) == "gateway-fixed")
            let workflow: JSONValue = [
                "1": ["class_type": "EmptyImage", "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": 7]],
                "2": ["class_type": "SlowProgress", "inputs": ["image": ["1", 0], "steps": 6, "delay_ms": 100]],
                "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "fixed"]],
            ]
            let submitted = try await api.submit(workflow: workflow, clientID: "gateway-fixed")
            _ = await events.until {
                if case .message(.progress(submitted.promptID, _, _, _, _), _) = $0 { true } else { false }
            }
            try await emulator.control("drop_sockets", json: [:], loop: loop)
            let (reconnected, _) = await events.until { Self.connectedID($0) != nil }
            #expect(Self.connectedID(reconnected) == "gateway-fixed")
            let (ending, _) = await events.until {
                if case .message(.executing(submitted.promptID, nil, _, _), _) = $0 { true } else { false }
            }
            // The message keeps ComfyUI's own text, to be forwarded as it came.
            let done = try #require(ending)
            guard case .message(.executing(_, _, _, let data), let text?) = done else {
                Issue.record("the executing message came without its text: \(done)")
                return
            }
            #expect(try JSONValue(parsing: text) == ["type": "executing", "data": data])
        }
    }

    @Test func aRestartIsRiddenOutWithBackoff() async throws {
        try await Self.withSocket { _, events, _, emulator, loop in
            let first = Self.connectedID(await events.next())
            try await emulator.control("restart", json: ["down_ms": 400], loop: loop)
            let (reconnected, between) = await events.until { Self.connectedID($0) != nil }
            #expect(between.contains { if case .disconnected = $0 { true } else { false } })
            let failures = between.compactMap { event -> Duration? in
                if case .connectFailed(_, let delay) = event { return delay }
                return nil
            }
            #expect(!failures.isEmpty, "attempts during the restart fail and are reported")
            #expect(failures.allSatisfy { $0 <= .seconds(30) })
            #expect(Self.connectedID(reconnected) != first)
            guard case .message(.status(let remaining, _, _), _)? = await events.next() else {
                Issue.record("no status after reconnecting")
                return
            }
            #expect(remaining == 0, "the restarted ComfyUI has an empty queue")
        }
    }

    @Test func aConsumerThatFallsBehindHoldsTheSocketBack() async throws {
        try await Self.withSocket(negotiate: false, maxUnreadEventBytes: 16 * 1024) { socket, events, api, _, loop in
            let id = try #require(Self.connectedID(await events.next()), "the socket connects")
            let workflow: JSONValue = [
                "1": ["class_type": "EmptyImage", "inputs": ["width": 64, "height": 64, "batch_size": 1, "color": 0]],
                "2": [
                    "class_type": "SlowProgress",
                    "inputs": ["image": ["1", 0], "steps": 60, "delay_ms": 1, "preview": true],
                ],
                "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "behind"]],
            ]
            let submitted = try await api.submit(workflow: workflow, clientID: id)
            // Nobody reads for a while: the socket must stop taking events near its limit.
            var largest = 0
            for _ in 0..<20 {
                await loop.sleep(milliseconds: 50)
                largest = max(largest, socket.events.waitingBytes)
            }
            #expect(largest > 0)
            #expect(largest <= 16 * 1024 + 64 * 1024, "unread events stay near the limit: \(largest) bytes")
            let (done, before) = await events.until(Self.isDone(submitted.promptID))
            #expect(done != nil, "every event still arrives once the consumer reads")
            #expect(before.filter { Self.name($0) == "progress" }.count == 60)
        }
    }

    @Test func stopEndsRunEvenWhileAHandshakeHangs() async throws {
        let emulator = try await ComfyEmulator.start()
        defer { emulator.stop() }
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        try await emulator.setFaults(hang: ["/ws"], loop: loop)
        let events = await Task(executorPreference: loop) { () -> [String] in
            var configuration = ComfySocket.Configuration(host: "127.0.0.1", port: emulator.port)
            configuration.connectTimeout = .milliseconds(500)
            let socket = ComfySocket(loop: loop, configuration: configuration)
            let runner = Task(executorPreference: loop) { await socket.run() }
            await loop.sleep(milliseconds: 100)
            socket.stop()
            await runner.value
            var names: [String] = []
            for await event in socket.events { names.append(Self.name(event)) }
            return names
        }.value
        #expect(!events.contains("connected"), "\(events)")
    }

    @Test func backoffGrowsAndIsCapped() throws {
        var configuration = ComfySocket.Configuration(host: "127.0.0.1", port: 1)
        configuration.initialBackoff = .milliseconds(100)
        configuration.maxBackoff = .seconds(2)
        let socket = ComfySocket(loop: try EventLoop(), configuration: configuration)
        var delays: Set<Duration> = []
        for failures in 0..<12 {
            let full = min(Duration.milliseconds(100) * (1 << failures), .seconds(2))
            let delay = socket.backoff(after: failures)
            delays.insert(delay)
            #expect(delay >= full / 2 && delay <= full, "retry \(failures): \(delay)")
        }
        #expect(delays.count > 6, "jitter makes the delays differ")
    }
}
