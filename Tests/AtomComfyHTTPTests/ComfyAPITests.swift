import AtomComfyHTTP
import Client
import Codecs
import ComfyEmulatorSupport
import Foundation
import Models
import Reactor
import Testing

/// The ComfyUI REST atom end to end against the emulator over real sockets: every route, every
/// error mapping, pool reuse, and a 100 MB download streamed.
struct ComfyAPITests {
    /// Runs `body` with an atom for a fresh emulator on a fresh loop; stops everything after,
    /// also when `body` throws.
    static func withEmulator(
        version: String? = nil,
        configure: @escaping @Sendable (inout HTTPClient.Configuration) -> Void = { _ in },
        _ body: @escaping @Sendable (ComfyAPI, ComfyEmulator, EventLoop) async throws -> Void
    ) async throws {
        let emulator = try await ComfyEmulator.start(extraArguments: version.map { ["--version", $0] } ?? [])
        defer { emulator.stop() }
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        try await Task(executorPreference: loop) {
            var configuration = emulator.clientConfiguration
            configure(&configuration)
            let client = HTTPClient(loop: loop, configuration: configuration)
            defer { client.shutdown() }
            try await body(ComfyAPI(client: client), emulator, loop)
        }.value
    }

    static let emptySave: JSONValue = [
        "1": ["class_type": "EmptyImage", "inputs": ["width": 16, "height": 16, "batch_size": 1, "color": 255]],
        "2": ["class_type": "SaveImage", "inputs": ["images": ["1", 0], "filename_prefix": "atom"]],
    ]

    static func slow(steps: Int, delay: Int) -> JSONValue {
        [
            "1": ["class_type": "EmptyImage", "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": 0]],
            "2": [
                "class_type": "SlowProgress",
                "inputs": ["image": ["1", 0], "steps": .int(Int64(steps)), "delay_ms": .int(Int64(delay))],
            ],
            "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "slow"]],
        ]
    }

    /// Polls history until `promptID` has an entry.
    static func waitForHistory(_ api: ComfyAPI, _ promptID: String, loop: EventLoop) async throws -> JSONValue {
        for _ in 0..<200 {
            if let entry = try await api.history(promptID: promptID) { return entry }
            await loop.sleep(milliseconds: 25)
        }
        throw GatewayError(.taskTimeout, message: "no history for \(promptID)")
    }

    static func code(of body: () async throws -> Void) async -> GatewayError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? GatewayError
        }
    }

    @Test func submitRunsAndHistoryHasTheImage() async throws {
        try await Self.withEmulator { api, _, loop in
            let promptID = ComfyAPI.newPromptID()
            #expect(promptID == promptID.lowercased() && promptID.count == 36)
            let submitted = try await api.submit(workflow: Self.emptySave, clientID: "gateway-1", promptID: promptID)
            #expect(submitted.promptID == promptID)
            #expect(submitted.nodeErrors == [:])
            let entry = try await Self.waitForHistory(api, promptID, loop: loop)
            #expect(entry["status"]?["status_str"] == "success")
            let image = entry["outputs"]?["2"]?["images"]?[0]
            #expect(image?["filename"]?.stringValue?.hasPrefix("atom_") == true)
            #expect(image?["type"] == "output")
            #expect(entry["prompt"]?[3]?["client_id"] == "gateway-1")
            let listed = try await api.history(maxItems: 1)
            #expect(Array(listed.keys) == [promptID])
            try await api.deleteHistory([promptID, "unknown-id"])
            #expect(try await api.history(promptID: promptID) == nil, "deleted (unknown ids are ignored)")
        }
    }

    @Test func aRejectedWorkflowIsAValidationErrorWithComfyUIsDetails() async throws {
        try await Self.withEmulator { api, _, _ in
            let invalid: JSONValue = [
                "1": ["class_type": "EmptyImage", "inputs": ["width": 0, "height": 64, "batch_size": 1, "color": 0]],
                "2": ["class_type": "SaveImage", "inputs": ["images": ["1", 0]]],
            ]
            let error = await Self.code { _ = try await api.submit(workflow: invalid, clientID: "g") }
            #expect(error?.code == .workflowValidationError)
            #expect(error?.status == 400)
            #expect(error?.details["error"]?["type"] == "prompt_outputs_failed_validation")
            #expect(error?.details["node_errors"]?["1"]?["errors"]?[0]?["type"] == "value_smaller_than_min")
            #expect(error?.details["node_errors"]?["2"]?["class_type"] == "SaveImage")
            let unknown = await Self.code {
                _ = try await api.submit(workflow: ["1": ["class_type": "NoSuchNode", "inputs": [:]]], clientID: "g")
            }
            #expect(unknown?.code == .workflowValidationError)
            #expect(unknown?.details["error"]?["type"] == "invalid_prompt")
        }
    }

    @Test func queueIsNormalisedSortedAndEditable() async throws {
        try await Self.withEmulator { api, emulator, loop in
            try await emulator.control("pause", json: ["paused": true], loop: loop)
            var ids: [String] = []
            for index in 0..<3 {
                let submitted = try await api.submit(
                    workflow: Self.slow(steps: 1, delay: 1), clientID: "c\(index)", front: index == 2)
                ids.append(submitted.promptID)
            }
            let queue = try await api.queue()
            #expect(queue.running.isEmpty)
            #expect(queue.pending.map(\.promptID) == [ids[2], ids[0], ids[1]], "the front one first, then by number")
            #expect(queue.pending.map(\.clientID) == ["c2", "c0", "c1"])
            #expect(queue.pending.first.map { $0.number < 0 } == true, "a prompt put in front has a negative number")
            try await api.deleteFromQueue([ids[0]])
            #expect(try await api.queue().pending.map(\.promptID) == [ids[2], ids[1]])
            try await api.clearQueue()
            #expect(try await api.queue().pending.isEmpty)
            try await emulator.control("pause", json: ["paused": false], loop: loop)
        }
    }

    @Test func interruptStopsTheRunningPrompt() async throws {
        try await Self.withEmulator { api, _, loop in
            let submitted = try await api.submit(workflow: Self.slow(steps: 100, delay: 50), clientID: "g")
            for _ in 0..<100 where try await api.queue().running.first?.promptID != submitted.promptID {
                await loop.sleep(milliseconds: 20)
            }
            try await api.interrupt(promptID: "not-" + submitted.promptID)
            #expect(try await api.queue().running.first?.promptID == submitted.promptID, "another id changes nothing")
            try await api.interrupt(promptID: submitted.promptID)
            let entry = try await Self.waitForHistory(api, submitted.promptID, loop: loop)
            #expect(entry["status"]?["status_str"] == "error")
            let last = entry["status"]?["messages"]?.arrayValue?.last?[0]
            #expect(last == "execution_interrupted")
            try await api.interrupt()
        }
    }

    @Test func uploadsKeepIdenticalNamesAndRenameDifferentContent() async throws {
        try await Self.withEmulator { api, _, _ in
            let png = Self.png(color: 1)
            let first = try await api.uploadImage(.bytes(png), filename: "in.png", contentType: "image/png")
            #expect(first == UploadedImage(name: "in.png", subfolder: "", type: "input"))
            let same = try await api.uploadImage(.bytes(png), filename: "in.png")
            #expect(same.name == "in.png", "identical content keeps its name")
            let other = Self.png(color: 2)
            let chunks = Chunks(other, size: 7)
            let renamed = try await api.uploadImage(
                .stream(length: other.count) { chunks.next() }, filename: "in.png", subfolder: "sub")
            #expect(renamed == UploadedImage(name: "in.png", subfolder: "sub", type: "input"))
            let again = try await api.uploadImage(.bytes(other), filename: "in.png")
            #expect(again.name == "in (1).png", "different content under a taken name is renamed")
            let overwritten = try await api.uploadImage(.bytes(other), filename: "in.png", overwrite: true)
            #expect(overwritten.name == "in.png")
        }
    }

    @Test func viewStreamsFilesAndMapsItsErrors() async throws {
        try await Self.withEmulator { api, _, loop in
            let submitted = try await api.submit(workflow: Self.emptySave, clientID: "g")
            let entry = try await Self.waitForHistory(api, submitted.promptID, loop: loop)
            let filename = entry["outputs"]?["2"]?["images"]?[0]?["filename"]?.stringValue ?? ""
            let download = try await api.view(filename: filename)
            #expect(download.contentType == "image/png")
            var bytes: [UInt8] = []
            for try await chunk in download.body { bytes += chunk }
            #expect(bytes.count == download.contentLength)
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            let missing = await Self.code { _ = try await api.view(filename: "nope.png") }
            #expect(missing?.code == .imageNotFound)
            let escaping = await Self.code { _ = try await api.view(filename: "../../etc/passwd") }
            #expect(escaping?.code == .fileOperationError && escaping?.status == 400)
            let outside = await Self.code { _ = try await api.view(filename: filename, subfolder: "../../..") }
            #expect(outside?.code == .fileOperationError && outside?.status == 400)
        }
    }

    @Test func systemStatsAndObjectInfo() async throws {
        try await Self.withEmulator { api, _, _ in
            // The emulator imitates 0.3.64, or 0.33.0 when the suite runs with COMFY_EMULATOR_VERSION=0.33.
            let imitated = ProcessInfo.processInfo.environment["COMFY_EMULATOR_VERSION"] == "0.33" ? "0.33.0" : "0.3.64"
            #expect(try await api.systemStats()["system"]?["comfyui_version"] == .string(imitated))
            let info = try await api.objectInfo(nodeClass: "EmptyImage")
            #expect(info["EmptyImage"]?["output"] == ["IMAGE"])
            #expect(try await api.objectInfo(nodeClass: "NoSuchNode") == [:])
            #expect(try await api.objectInfo()["SaveImage"]?["output_node"] == true)
        }
    }

    @Test func aURLPathIsAMountPointEveryCallGoesUnder() async throws {
        try await Self.withEmulator { _, emulator, loop in
            // ComfyUI serves every route under /api too: a gateway mounted there must reach it.
            let mounted = ComfyAPI(baseURL: "http://127.0.0.1:\(emulator.port)/api/", timeoutSeconds: 5, loop: loop)
            let elsewhere = ComfyAPI(baseURL: "http://127.0.0.1:\(emulator.port)/nope", timeoutSeconds: 5, loop: loop)
            defer {
                mounted.shutdown()
                elsewhere.shutdown()
            }
            #expect(mounted.baseURL == "http://127.0.0.1:\(emulator.port)/api")
            let queue = try await mounted.queue()
            #expect(queue.pending.isEmpty)
            let error = await Self.code { _ = try await elsewhere.queue() }
            #expect(error?.details["upstream_status"] == 404)
        }
    }

    @Test func sequentialCallsShareOnePooledConnection() async throws {
        try await Self.withEmulator { api, emulator, loop in
            _ = try await api.systemStats()
            let before = try await emulator.connectionsAccepted(loop: loop)
            for _ in 0..<10 { _ = try await api.queue() }
            // The control call itself opens one connection of its own.
            #expect(try await emulator.connectionsAccepted(loop: loop) == before + 1)
            #expect(api.client.openConnections == 1)
        }
    }

    @Test func anUpstreamThatIsDownIsAConnectionError() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        try await Task(executorPreference: loop) {
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
            let port = listener.localPort
            listener.stopAccepting()
            let client = HTTPClient(loop: loop, configuration: HTTPClient.Configuration(host: "127.0.0.1", port: port))
            defer { client.shutdown() }
            let error = await Self.code { _ = try await ComfyAPI(client: client).systemStats() }
            #expect(error?.code == .connectionError && error?.status == 502)
            #expect(error?.details["upstream"] == .string("http://127.0.0.1:\(port)"))
        }.value
    }

    @Test func hangsResetsAndErrorStatusesAreMapped() async throws {
        try await Self.withEmulator(configure: { $0.requestTimeout = .seconds(2) }) { api, emulator, loop in
            try await emulator.setFaults(
                hang: ["/system_stats"], reset: ["/object_info"], status: ["/queue": 503, "/prompt": 500], loop: loop)
            let hung = await Self.code { _ = try await api.systemStats() }
            #expect(hung?.code == .taskTimeout && hung?.status == 504)
            let reset = await Self.code { _ = try await api.objectInfo() }
            #expect(reset?.code == .connectionError)
            let queue = await Self.code { _ = try await api.queue() }
            #expect(queue?.code == .queueOperationError && queue?.details["upstream_status"] == 503)
            let submit = await Self.code { _ = try await api.submit(workflow: Self.emptySave, clientID: "g") }
            #expect(submit?.code == .queueOperationError && submit?.details["upstream_status"] == 500)
            try await emulator.setFaults(loop: loop)
            #expect(try await api.systemStats()["system"] != nil, "the client recovers once the faults are gone")
        }
    }

    @Test func aHundredMegabyteDownloadArrivesWhole() async throws {
        // Correctness only: its memory is measured by `make bench` (upstream-bench), alone in its
        // process, since this suite's other tests allocate at the same time.
        try await Self.withEmulator { api, emulator, _ in
            let size = 100 * 1024 * 1024
            try Self.writeFile(emulator.rootPath + "/output/big.bin", megabytes: 100)
            let download = try await api.view(filename: "big.bin")
            #expect(download.contentLength == size)
            var total = 0
            var checksum = 0
            for try await chunk in download.body {
                var offset = (4096 - total % 4096) % 4096
                while offset < chunk.count {
                    checksum &+= Int(chunk[offset])
                    offset += 4096
                }
                total += chunk.count
            }
            #expect(total == size)
            #expect(checksum == (0..<25_600).reduce(0) { $0 + $1 % 256 }, "every 4 KiB block arrived in place")
        }
    }

    /// Writes `megabytes` MiB where each 4 KiB block holds its index mod 256, a megabyte at a time.
    static func writeFile(_ path: String, megabytes: Int) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        // A megabyte is 256 blocks, so every megabyte is the same bytes.
        let oneMegabyte = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 / 4096) })
        for _ in 0..<megabytes { file.write(oneMegabyte) }
        try file.close()
    }

    /// A minimal valid 1x1 PNG whose pixel is `color` (different colors, different bytes).
    static func png(color: UInt8) -> [UInt8] {
        let base64 =
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
        var bytes = [UInt8](Data(base64Encoded: base64) ?? Data())
        bytes.append(contentsOf: Array("tEXtc".utf8) + [color])
        return bytes
    }
}

/// Hands out `bytes` in `size`-byte chunks, for a streamed upload.
final class Chunks: @unchecked Sendable {
    private let bytes: [UInt8]
    private let size: Int
    private var offset = 0
    private let lock = NSLock()

    init(_ bytes: [UInt8], size: Int) {
        self.bytes = bytes
        self.size = size
    }

    func next() -> [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        guard offset < bytes.count else { return nil }
        let chunk = Array(bytes[offset..<min(offset + size, bytes.count)])
        offset += chunk.count
        return chunk
    }
}
