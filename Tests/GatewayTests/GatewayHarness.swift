import Client
import Codecs
import ComfyEmulatorSupport
import Core
import Entry
import Foundation
import Logging
import Models
import Reactor

/// The whole gateway in-process (`GatewayApplication`, as the executable builds it) on a free
/// loopback port, in front of a fresh ComfyUI emulator, with scratch input and output
/// directories; everything is stopped and removed after `body`, also when it throws.
struct GatewayHarness: Sendable {
    let emulator: ComfyEmulator
    let loop: EventLoop
    let port: Int
    let configuration: GatewayConfiguration

    static func run(
        settings extra: [String: String] = [:], _ body: @escaping @Sendable (GatewayHarness) async throws -> Void
    ) async throws {
        let emulator = try await ComfyEmulator.start()
        defer { emulator.stop() }
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let scratch = NSTemporaryDirectory() + "gateway-tests-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let port = try await loop.submit {
            let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { _ in }
            defer { listener.stopAccepting() }
            return listener.localPort
        }
        let settings = [
            "COMFYUI_URL": "http://127.0.0.1:\(emulator.port)", "INPUT_DIR": scratch + "/input",
            "OUTPUT_DIR": scratch + "/output", "STATE_DIR": scratch + "/state", "HOST": "127.0.0.1",
            "PORT": String(port),
        ].merging(extra) { $1 }
        let configuration = try ConfigurationLoader.validate { settings[$0.variable] }
        var logger = Logger(label: "gateway-tests")
        logger.logLevel = .warning
        let app = try await GatewayApplication.open(configuration: configuration, loop: loop, logger: logger)
        _ = try await app.start()
        let harness = GatewayHarness(emulator: emulator, loop: loop, port: port, configuration: configuration)
        do {
            try await Task(executorPreference: loop) { try await body(harness) }.value
        } catch {
            await app.shutdown()
            throw error
        }
        await app.shutdown()
    }

    /// A client of the gateway's REST API on the loop (shut it down when done).
    func client() -> HTTPClient {
        HTTPClient(loop: loop, configuration: HTTPClient.Configuration(host: "127.0.0.1", port: port))
    }

    /// Waits until `/ready` answers 200 (the first probe of ComfyUI has succeeded).
    func waitUntilReady(_ client: HTTPClient) async throws {
        for _ in 0..<200 {
            if try await client.call(.get, "/ready").status == 200 { return }
            await loop.sleep(milliseconds: 25)
        }
        throw HarnessError("the gateway did not become ready")
    }
}

/// A failed precondition of a test harness.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One whole answer of the gateway.
struct Reply: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]

    var json: JSONValue { (try? JSONValue(parsing: body)) ?? .null }
    /// The `code` of an error answer.
    var errorCode: String? { json["error"]?["code"]?.stringValue }
}

extension HTTPClient {
    /// Sends a request with an optional JSON body and reads the whole answer.
    func call(_ method: HTTPMethod, _ target: String, json: JSONValue? = nil) async throws -> Reply {
        var request = HTTPClientRequest(method: method, target: target)
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(json.serialized())
        }
        return try await send(request)
    }

    func send(_ request: HTTPClientRequest) async throws -> Reply {
        let response = try await execute(request)
        let body = try await response.collect(upTo: 64 << 20)
        return Reply(status: response.status, headers: response.headers, body: body)
    }
}
