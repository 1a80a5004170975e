import Foundation
import LoopbackTestSupport
import Reactor

/// The real `comfy-gateway` executable, started as a child process on a free loopback port.
final class GatewayProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    private let stderrFile: URL

    /// The package root, found from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The built executable (`make test` builds it before the tests run).
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["COMFY_GATEWAY_BINARY"] { return URL(fileURLWithPath: path) }
        return packageRoot.appendingPathComponent(".build/debug/comfy-gateway")
    }

    /// Runs the binary to completion with `arguments`; returns its exit status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: NSTemporaryDirectory())
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self)
        )
    }

    /// A port that was free a moment ago.
    static func freePort(loop: EventLoop) async throws -> Int {
        try await loop.submit {
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
            defer { listener.stopAccepting() }
            return listener.localPort
        }
    }

    /// Starts the gateway and waits until it accepts connections.
    init(loop: EventLoop, extraArguments: [String] = []) async throws {
        port = try await Self.freePort(loop: loop)
        stderrFile = URL(fileURLWithPath: NSTemporaryDirectory() + "gateway-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.executableURL = Self.binary
        // Each gateway its own ledger: two on one file refuse to start.
        let state = NSTemporaryDirectory() + "gateway-state-\(UUID().uuidString)"
        process.arguments =
            ["--host", "127.0.0.1", "--port", String(port), "--log-level", "info", "--state-dir", state]
            + extraArguments
        process.currentDirectoryURL = URL(fileURLWithPath: NSTemporaryDirectory())
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now.advanced(by: .seconds(15))
        while ContinuousClock.now < deadline {
            if let client = try? await LoopbackClient.connect(loop: loop, port: port) {
                try await client.close()
                return
            }
            await loop.sleep(milliseconds: 20)
        }
        process.terminate()
        throw GatewayProcessError.didNotStart(log)
    }

    var log: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits up to `timeout` for the exit; returns the exit status, or nil when
    /// the process was still running (it is then killed).
    func terminate(timeout: Duration = .seconds(10)) async -> Int32? {
        process.terminate()
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: stderrFile)
    }
}

enum GatewayProcessError: Error {
    case didNotStart(String)
}
