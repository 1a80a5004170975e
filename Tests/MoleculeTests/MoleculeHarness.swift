import AtomComfyHTTP
import Codecs
import ComfyEmulatorSupport
import Core
import Foundation
import Models
import Reactor

/// A fresh emulator, a loop and a configuration pointing at it, with scratch input and output
/// directories; everything is stopped and removed after `body`, also when it throws.
struct MoleculeHarness: Sendable {
    let emulator: ComfyEmulator
    let loop: EventLoop
    let configuration: GatewayConfiguration
    /// The emulator as the molecules reach it (its pools closed after `body`).
    let backend: ComfyBackend

    static func run(_ body: @escaping @Sendable (MoleculeHarness) async throws -> Void) async throws {
        let emulator = try await ComfyEmulator.start()
        defer { emulator.stop() }
        let scratch = NSTemporaryDirectory() + "molecule-tests-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let settings = [
            "COMFYUI_URL": "http://127.0.0.1:\(emulator.port)", "INPUT_DIR": scratch + "/input",
            "OUTPUT_DIR": scratch + "/output", "COMFYUI_TIMEOUT": "10",
        ]
        let configuration = try ConfigurationLoader.validate { settings[$0.variable] }
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let backend = ComfyBackend(baseURL: configuration.comfyURL, timeoutSeconds: 10, loop: loop)
        let harness = MoleculeHarness(emulator: emulator, loop: loop, configuration: configuration, backend: backend)
        defer { loop.execute { backend.shutdown() } }
        try await Task(executorPreference: loop) { try await body(harness) }.value
    }

    /// Pauses or resumes the emulator's worker (prompts stay pending while paused).
    func pause(_ paused: Bool) async throws {
        try await emulator.control("pause", json: ["paused": .bool(paused)], loop: loop)
    }

    /// Polls `condition` every 20 ms, up to 10 s.
    func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        for _ in 0..<500 {
            if try await condition() { return }
            await loop.sleep(milliseconds: 20)
        }
        throw GatewayError(.taskTimeout, message: "timed out waiting until \(what)")
    }

    /// The first error `body` throws as a `GatewayError`, nil when it does not throw.
    static func error(of body: () async throws -> Void) async -> GatewayError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? GatewayError
        }
    }

    static let emptySave: JSONValue = [
        "1": ["class_type": "EmptyImage", "inputs": ["width": 16, "height": 16, "batch_size": 1, "color": 7]],
        "2": ["class_type": "SaveImage", "inputs": ["images": ["1", 0], "filename_prefix": "molecule"]],
    ]

    static func slow(steps: Int = 200, delay: Int = 50) -> JSONValue {
        [
            "1": ["class_type": "EmptyImage", "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": 0]],
            "2": [
                "class_type": "SlowProgress",
                "inputs": ["image": ["1", 0], "steps": .int(Int64(steps)), "delay_ms": .int(Int64(delay))],
            ],
            "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "slow"]],
        ]
    }

    static let failing: JSONValue = [
        "1": ["class_type": "EmptyImage", "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": 0]],
        "2": ["class_type": "FailAlways", "inputs": ["image": ["1", 0], "message": "planned failure"]],
        "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "never"]],
    ]
}
