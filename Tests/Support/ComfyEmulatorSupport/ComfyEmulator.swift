package import Client
package import Codecs
import Foundation
package import Reactor

/// The ComfyUI emulator (`Tests/ComfyEmulator`, Python on aiohttp) as a child process on a free
/// loopback port with a scratch root directory of its own, plus its test controls
/// (`/__emulator/...`: drop sockets, pause, restart, stats, faults). `make test` creates the
/// Python environment (`.build-venv`) before the Swift suites run.
package final class ComfyEmulator: @unchecked Sendable {
    package let port: Int
    /// Holds `input/`, `output/` and `temp/`.
    package var rootPath: String { root.path }
    private let root: URL
    private let process: Process

    /// The package root, found from this file's path (`Tests/Support/ComfyEmulatorSupport/`).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Why the emulator could not start.
    package struct StartFailure: Error, CustomStringConvertible {
        package let description: String
    }

    private init(port: Int, root: URL, process: Process) {
        self.port = port
        self.root = root
        self.process = process
    }

    /// Starts an emulator and waits for its `listening PORT` line.
    package static func start(extraArguments: [String] = []) async throws -> ComfyEmulator {
        let python = packageRoot.appendingPathComponent(".build-venv/bin/python3")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw StartFailure(description: "no \(python.path): run `make .build-venv/installed` (make test does)")
        }
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("comfy-emulator-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let output = root.appendingPathComponent("emulator.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = python
        process.arguments =
            [
                packageRoot.appendingPathComponent("Tests/ComfyEmulator/emulator.py").path, "--port", "0", "--root",
                root.path,
                // A test run that dies (a crash, a kill) must not leave emulators behind.
                "--exit-with-parent",
            ]
            + extraArguments
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: output)
        try process.run()
        for _ in 0..<300 {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening ") }),
                let port = Int(line.dropFirst("listening ".count))
            {
                return ComfyEmulator(port: port, root: root, process: process)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        throw StartFailure(description: "the emulator did not start:\n\(log)")
    }

    /// Stops the process (SIGTERM, then SIGKILL after 5 s) and removes the root directory.
    ///
    /// The exit is also watched with `waitpid` here, not only through `Process`: Foundation
    /// learns of a child's exit when a socket the child inherited closes, and a sibling started
    /// at the same moment (every test starts its own emulator) can inherit that socket too. Then
    /// `isRunning` stays true for a zombie and `waitUntilExit()` spins forever (seen once in
    /// about 40 runs, holding two cores).
    package func stop() {
        let pid = process.processIdentifier
        if !hasExited(pid) {
            process.terminate()
            let deadline = ContinuousClock.now + .seconds(5)
            while !hasExited(pid) && ContinuousClock.now < deadline { usleep(10_000) }
            if !hasExited(pid) {
                kill(pid, SIGKILL)
                while !hasExited(pid) { usleep(10_000) }
            }
        }
        try? FileManager.default.removeItem(at: root)
    }

    /// True once the emulator has exited, as `Process` reports it or as `waitpid` finds it.
    private func hasExited(_ pid: Int32) -> Bool {
        guard process.isRunning else { return true }
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        return reaped == pid || (reaped == -1 && errno == ECHILD)
    }

    /// A client configuration for this emulator.
    package var clientConfiguration: HTTPClient.Configuration {
        HTTPClient.Configuration(host: "127.0.0.1", port: port)
    }

    // MARK: Controls

    /// Calls a control (from any task: the call runs on `loop`) and returns its JSON answer.
    @discardableResult
    package func control(_ path: String, json: JSONValue? = nil, loop: EventLoop) async throws -> JSONValue {
        let configuration = clientConfiguration
        return try await Task(executorPreference: loop) {
            let client = HTTPClient(loop: loop, configuration: configuration)
            defer { client.shutdown() }
            var request = HTTPClientRequest(method: json == nil ? .get : .post, target: "/__emulator/" + path)
            if let json {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(json.serialized())
            }
            let response = try await client.execute(request)
            return try JSONValue(parsing: try await response.collect(upTo: 1 << 20))
        }.value
    }

    /// TCP connections the emulator accepted since it started.
    package func connectionsAccepted(loop: EventLoop) async throws -> Int {
        try await control("stats", loop: loop)["connections_accepted"]?.intValue ?? -1
    }

    /// Makes requests to these paths hang, be reset mid-response, or get a status.
    package func setFaults(
        hang: [String] = [], reset: [String] = [], status: [String: Int] = [:], loop: EventLoop
    ) async throws {
        let faults: JSONValue = [
            "hang": .array(hang.map(JSONValue.string)), "reset": .array(reset.map(JSONValue.string)),
            "status": .object(status.mapValues { .int(Int64($0)) }),
        ]
        try await control("faults", json: faults, loop: loop)
    }
}
