import Client
import Codecs
import ComfyEmulatorSupport
import Models
import Reactor
import Testing

/// The REST routes of Entry and the coordinators behind them, in-process and through a real
/// socket, against the emulator: a run from submit to its downloaded image, the queue listed,
/// withdrawn and cleared, an upload read back, the caps, and the error shape.
struct RESTRoutesTests {
    static let api = "/api/v1"

    static func emptySave(color: Int, prefix: String) -> JSONValue {
        [
            "1": [
                "class_type": "EmptyImage",
                "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": .int(Int64(color))],
            ],
            "2": ["class_type": "SaveImage", "inputs": ["images": ["1", 0], "filename_prefix": .string(prefix)]],
        ]
    }

    static func slow(color: Int) -> JSONValue {
        [
            "1": [
                "class_type": "EmptyImage",
                "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": .int(Int64(color))],
            ],
            "2": ["class_type": "SlowProgress", "inputs": ["image": ["1", 0], "steps": 1, "delay_ms": 60_000]],
            "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "slow"]],
        ]
    }

    @Test func aRunGoesFromSubmitToItsDownloadedImage() async throws {
        try await GatewayHarness.run { gateway in
            let client = gateway.client()
            defer { client.shutdown() }
            try await gateway.waitUntilReady(client)
            let submitted = try await client.call(
                .post, "\(Self.api)/workflows/submit",
                json: ["workflow": Self.emptySave(color: 4242, prefix: "rest-routes"), "client_id": "rest-tests"])
            #expect(submitted.status == 200)
            let promptID = try #require(submitted.json["prompt_id"]?.stringValue)
            #expect(submitted.json["client_id"] == "rest-tests")
            var history = Reply(status: 0, headers: [:], body: [])
            for _ in 0..<200 {
                history = try await client.call(.get, "\(Self.api)/workflows/\(promptID)/history")
                if history.json["status"] == "success" { break }
                await gateway.loop.sleep(milliseconds: 25)
            }
            #expect(history.status == 200 && history.json["status"] == "success")
            let images = try await client.call(.get, "\(Self.api)/workflows/\(promptID)/images")
            let image = try #require(images.json["images"]?[0])
            #expect(image["node_id"] == "2" && image["type"] == "output")
            let filename = try #require(image["filename"]?.stringValue)
            let download = try await client.call(
                .get, "\(Self.api)/images/download?filename=\(filename)&subfolder=&type=output")
            #expect(download.status == 200)
            #expect(download.body.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
            #expect(download.headers[first: "ETag"] != nil)
            let again = try await client.call(
                .get, "\(Self.api)/images/download?filename=\(filename)&subfolder=&type=output")
            #expect(again.body == download.body, "served again, from the cache this time")
            let url = try await client.call(.get, "\(Self.api)/images/url?filename=\(filename)&type=output")
            #expect(url.json["url"]?.stringValue?.hasSuffix("filename=\(filename)&subfolder=&type=output") == true)
        }
    }

    @Test func theQueueIsListedWithdrawnFromAndCleared() async throws {
        try await GatewayHarness.run { gateway in
            let client = gateway.client()
            defer { client.shutdown() }
            try await gateway.waitUntilReady(client)
            _ = try await gateway.emulator.control("pause", json: ["paused": true], loop: gateway.loop)
            var ids: [String] = []
            for index in 0..<3 {
                let reply = try await client.call(
                    .post, "\(Self.api)/workflows/submit",
                    json: ["workflow": Self.slow(color: 100 + index), "client_id": .string("queue-\(index)")])
                ids.append(try #require(reply.json["prompt_id"]?.stringValue))
            }
            let status = try await client.call(.get, "\(Self.api)/queue/status")
            #expect(status.json["pending"]?.arrayValue?.map { $0["prompt_id"]?.stringValue } == ids)
            #expect(status.json["pending"]?[0]?["client_id"] == "queue-0")
            let pending = try await client.call(.get, "\(Self.api)/workflows/\(ids[1])/history")
            #expect(pending.json["status"] == "pending" && pending.json["queue_position"] == 2)
            let withdrawn = try await client.call(
                .post, "\(Self.api)/workflows/interrupt", json: ["prompt_id": .string(ids[0])])
            #expect(withdrawn.json["action"] == "removed_from_queue")
            let cleared = try await client.call(.post, "\(Self.api)/queue/clear", json: ["clear": true])
            #expect(cleared.json["removed"] == 2)
            let empty = try await client.call(.get, "\(Self.api)/queue/status")
            #expect(empty.json["pending_count"] == 0)
            _ = try await gateway.emulator.control("pause", json: ["paused": false], loop: gateway.loop)
        }
    }

    @Test func anUploadIsKeptAndReadBack() async throws {
        try await GatewayHarness.run { gateway in
            let client = gateway.client()
            defer { client.shutdown() }
            try await gateway.waitUntilReady(client)
            let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 300)
            let boundary = "rest-routes-boundary"
            var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"subfolder\"\r\n\r\nrest\r\n".utf8)
            body += Array(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"up.png\"\r\nContent-Type: image/png\r\n\r\n"
                    .utf8)
            body += png + Array("\r\n--\(boundary)--\r\n".utf8)
            var request = HTTPClientRequest(method: .post, target: "\(Self.api)/images/upload", body: .bytes(body))
            request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
            let uploaded = try await client.send(request)
            #expect(uploaded.status == 200)
            #expect(uploaded.json["subfolder"] == "rest" && uploaded.json["type"] == "input")
            let name = try #require(uploaded.json["name"]?.stringValue)
            let back = try await client.call(
                .get, "\(Self.api)/images/download?filename=\(name)&subfolder=rest&type=input")
            #expect(back.status == 200 && back.body == png)
        }
    }

    @Test func aClientIDAtItsCapIsRefusedWith429() async throws {
        try await GatewayHarness.run(settings: ["MAX_PENDING_PER_CLIENT": "2"]) { gateway in
            let client = gateway.client()
            defer { client.shutdown() }
            try await gateway.waitUntilReady(client)
            _ = try await gateway.emulator.control("pause", json: ["paused": true], loop: gateway.loop)
            for index in 0..<2 {
                let reply = try await client.call(
                    .post, "\(Self.api)/workflows/submit",
                    json: ["workflow": Self.slow(color: 200 + index), "client_id": "capped"])
                #expect(reply.status == 200)
            }
            let refused = try await client.call(
                .post, "\(Self.api)/workflows/submit", json: ["workflow": Self.slow(color: 300), "client_id": "capped"])
            #expect(refused.status == 429 && refused.errorCode == "QUEUE_FULL")
            #expect(refused.headers[first: "Retry-After"] == "1")
            let other = try await client.call(
                .post, "\(Self.api)/workflows/submit", json: ["workflow": Self.slow(color: 301), "client_id": "other"])
            #expect(other.status == 200)
            _ = try await client.call(.post, "\(Self.api)/queue/clear", json: ["clear": true])
            _ = try await gateway.emulator.control("pause", json: ["paused": false], loop: gateway.loop)
        }
    }

    @Test func errorsHaveOneShape() async throws {
        try await GatewayHarness.run { gateway in
            let client = gateway.client()
            defer { client.shutdown() }
            try await gateway.waitUntilReady(client)
            let unknown = try await client.call(.get, "\(Self.api)/workflows/no-such-prompt/history")
            #expect(unknown.status == 404 && unknown.errorCode == "WORKFLOW_NOT_FOUND")
            #expect(unknown.json["error"]?["request_id"]?.stringValue == unknown.headers[first: "X-Request-Id"])
            let deep = (0..<65).reduce(JSONValue.int(1)) { inner, _ in .array([inner]) }
            let nested = try await client.call(
                .post, "\(Self.api)/workflows/submit",
                json: ["workflow": ["1": ["class_type": "EmptyImage", "inputs": ["width": deep]]]])
            #expect(nested.status == 400 && nested.errorCode == "WORKFLOW_VALIDATION_ERROR")
            let annotated = try await client.call(
                .get, "\(Self.api)/images/download?filename=x.png%5Binput%5D&type=output")
            #expect(annotated.status == 400 && annotated.errorCode == "FILE_OPERATION_ERROR")
            let health = try await client.call(.get, "/health")
            #expect(health.status == 200 && health.json["status"] == "ok")
            let document = try await client.call(.get, "/openapi.json")
            #expect(document.json["paths"]?["/api/v1/workflows/submit"]?["post"]?["responses"]?["429"] != nil)
        }
    }
}
