import Client
import Codecs
import ComfyEmulatorSupport
import Core
import Entry
import Foundation
import Logging
import Models
import Reactor
import Testing

/// The whole gateway in-process (so ThreadSanitizer sees the job tracker, the sessions and the
/// coordinator at work) against the emulator, driven through a real WebSocket: a run from
/// submit to result, and a run that outlives a drop of the upstream socket.
struct WebSocketGatewayTests {
    /// The app, the emulator and a connected socket of `clientID`, all stopped after `body`.
    static func withGateway(
        clientID: String,
        _ body: @escaping @Sendable (WebSocketClient, ComfyEmulator, EventLoop) async throws -> Void
    ) async throws {
        try await GatewayHarness.run { harness in
            let socket = try await WebSocketClient.connect(
                to: "ws://127.0.0.1:\(harness.port)/api/v1/ws/\(clientID)", loop: harness.loop)
            defer { socket.close() }
            try await body(socket, harness.emulator, harness.loop)
        }
    }

    /// Reads text messages as JSON until `last` matches one (or 20 s pass), returning them all.
    static func read(
        _ socket: WebSocketClient, loop: EventLoop, until last: @escaping @Sendable (JSONValue) -> Bool
    ) async throws -> [JSONValue] {
        let inbox = socket.messages
        let reader = Task(executorPreference: loop) { () -> [JSONValue] in
            var messages: [JSONValue] = []
            for await message in inbox {
                guard case .text(let text) = message, let json = try? JSONValue(parsing: Array(text.utf8)) else {
                    continue
                }
                messages.append(json)
                if last(json) { break }
            }
            return messages
        }
        let bound = LoopBound(socket, loop: loop)
        let timeout = Task(executorPreference: loop) {
            try await Task.sleep(for: .seconds(20))
            bound.value.abort()
        }
        defer { timeout.cancel() }
        return await reader.value
    }

    static func workflow(steps: Int, color: Int) -> JSONValue {
        [
            "1": [
                "class_type": "EmptyImage",
                "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": .int(Int64(color))],
            ],
            "2": [
                "class_type": "SlowProgress",
                "inputs": ["image": ["1", 0], "steps": .int(Int64(steps)), "delay_ms": 50],
            ],
            "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "gateway-tests"]],
        ]
    }

    static func isEnd(_ message: JSONValue) -> Bool {
        ["result", "execution_error"].contains(message["type"]?.stringValue ?? "")
    }

    @Test func aRunSubmittedOverTheSocketEndsWithItsResult() async throws {
        try await Self.withGateway(clientID: "tsan-a") { socket, _, loop in
            let greeting = try await Self.read(socket, loop: loop) { $0["type"] == "system" }
            #expect(greeting.last?["data"]?["event"] == "connected")
            let submit: JSONValue = ["type": "submit", "data": ["workflow": Self.workflow(steps: 3, color: 11)]]
            try await socket.send(text: String(decoding: submit.serialized(), as: UTF8.self))
            let messages = try await Self.read(socket, loop: loop, until: Self.isEnd)
            let submitted = messages.first { $0["type"] == "system" && $0["data"]?["event"] == "submitted" }
            let promptID = submitted?["data"]?["prompt_id"]
            #expect(promptID != nil)
            let progress = messages.filter { $0["type"] == "progress" }.compactMap { $0["data"]?["value"]?.intValue }
            #expect(progress == [1, 2, 3])
            let result = messages.last
            #expect(result?["type"] == "result" && result?["data"]?["prompt_id"] == promptID)
            #expect(result?["data"]?["status"] == "success")
            let url = result?["data"]?["images"]?[0]?["url"]?.stringValue ?? ""
            #expect(url.contains("/api/v1/images/download?filename=gateway-tests_"))
        }
    }

    @Test func aRunOutlivesADropOfTheUpstreamSocketWithOneResult() async throws {
        try await Self.withGateway(clientID: "tsan-b") { socket, emulator, loop in
            _ = try await Self.read(socket, loop: loop) { $0["type"] == "system" }
            let submit: JSONValue = ["type": "submit", "data": ["workflow": Self.workflow(steps: 20, color: 12)]]
            try await socket.send(text: String(decoding: submit.serialized(), as: UTF8.self))
            _ = try await Self.read(socket, loop: loop) { $0["type"] == "progress" }
            _ = try await emulator.control("drop_sockets", json: [:], loop: loop)
            let messages = try await Self.read(socket, loop: loop, until: Self.isEnd)
            let events = messages.compactMap { $0["type"] == "system" ? $0["data"]?["event"]?.stringValue : nil }
            #expect(events == ["upstream_disconnected", "upstream_reconnected"])
            #expect(messages.last?["type"] == "result" && messages.last?["data"]?["status"] == "success")
            #expect(messages.filter(Self.isEnd).count == 1)
        }
    }
}
