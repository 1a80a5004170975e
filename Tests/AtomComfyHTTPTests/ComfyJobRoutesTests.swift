import AtomComfyHTTP
import Codecs
import Foundation
import Models
import Reactor
import Testing

/// ComfyUI's job routes against the emulator as 0.33 (which has them) and as 0.3.64 (which has
/// not): detection, one prompt's state, and cancel by id for a running, a pending and an ended
/// prompt.
struct ComfyJobRoutesTests {
    static let slow: JSONValue = [
        "1": ["class_type": "EmptyImage", "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": 7]],
        "2": ["class_type": "SlowProgress", "inputs": ["image": ["1", 0], "steps": 1, "delay_ms": 60_000]],
        "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "jobs"]],
    ]

    /// Waits up to 5 s for the job to reach `status`.
    static func wait(_ api: ComfyAPI, _ id: String, _ status: JSONValue, loop: EventLoop) async throws {
        for _ in 0..<200 {
            if try await api.job(id)?["status"] == status { return }
            await loop.sleep(milliseconds: 25)
        }
    }

    @Test func version0_3_64HasNoJobRoutes() async throws {
        try await ComfyAPITests.withEmulator(version: "0.3.64") { api, _, _ in
            let has = try await api.hasJobRoutes()
            #expect(!has)
        }
    }

    @Test func cancelByIDInterruptsARunningPromptAndRemovesAPendingOne() async throws {
        try await ComfyAPITests.withEmulator(version: "0.33") { api, _, loop in
            let has = try await api.hasJobRoutes()
            #expect(has)
            let running = try await api.submit(workflow: Self.slow, clientID: "jobs-test").promptID
            let pending = try await api.submit(workflow: Self.slow, clientID: "jobs-test").promptID
            try await Self.wait(api, running, "in_progress", loop: loop)
            #expect(try await api.job(running)?["status"] == "in_progress")
            #expect(try await api.job(pending)?["status"] == "pending")
            #expect(try await api.cancelJob(pending))
            #expect(try await api.job(pending) == nil)
            #expect(try await api.cancelJob(running))
            try await Self.wait(api, running, "cancelled", loop: loop)
            #expect(try await api.job(running)?["status"] == "cancelled")
            // Ended or unknown: nothing to cancel.
            let again = try await api.cancelJob(running)
            let unknown = try await api.cancelJob(UUID().uuidString.lowercased())
            #expect(!again && !unknown)
        }
    }
}
