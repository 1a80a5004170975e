import Codecs
import Core
import Foundation
import LoopbackTestSupport
import Reactor
import Testing

/// The `comfy-gateway` executable as a user runs it: command line, configuration errors, serving
/// `/health` over real sockets, and graceful shutdown on SIGTERM.
@Suite(.serialized)
struct GatewayExecutableTests {
    @Test func helpListsEverySetting() throws {
        let result = try GatewayProcess.run(["--help"])
        #expect(result.status == 0)
        for setting in GatewaySetting.all {
            #expect(result.stdout.contains(setting.flag), "--help lacks \(setting.flag)")
            #expect(result.stdout.contains(setting.variable), "--help lacks \(setting.variable)")
        }
        #expect(result.stdout.contains("--env-file"))
    }

    @Test func versionIsPrinted() throws {
        let result = try GatewayProcess.run(["--version"])
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == GatewayVersion.current)
    }

    @Test func badValueStopsStartUpWithOneLineAndStatus2() throws {
        let result = try GatewayProcess.run(["--port", "abc"])
        #expect(result.status == 2)
        #expect(result.stderr == "comfy-gateway: PORT must be 1-65535, got 'abc'\n")
        let fromEnvironment = try GatewayProcess.run([], environment: ["LOG_FORMAT": "yaml"])
        #expect(fromEnvironment.status == 2)
        #expect(fromEnvironment.stderr == "comfy-gateway: LOG_FORMAT must be text or json, got 'yaml'\n")
    }

    @Test func servesHealthWithKeepAliveAndExitsCleanlyOnSIGTERM() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let gateway = try await GatewayProcess(loop: loop)
        let client = try await LoopbackClient.connect(loop: loop, port: gateway.port)
        try await client.send("GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n")
        let first = try await client.responses(1)
        #expect(first.first?.status == 200)
        #expect(first.first?.text == "{\"status\":\"ok\"}")
        #expect(first.first?.head.headers[first: "Content-Type"] == "application/json; charset=utf-8")
        #expect(first.first?.head.headers[first: "X-Request-Id"]?.isEmpty == false)
        try await client.send("GET /health HTTP/1.1\r\nHost: gateway\r\nX-Request-Id: e2e-1\r\n\r\n")
        let second = try await client.responses(2)
        #expect(second.last?.head.headers[first: "X-Request-Id"] == "e2e-1")

        let busy = try await LoopbackClient.connect(loop: loop, port: gateway.port)
        let burst = String(repeating: "GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n", count: 50)
        try await busy.send(burst)
        let partial = try await LoopbackClient.connect(loop: loop, port: gateway.port)
        try await partial.send("GET /health HTTP/1.1\r\nHo")
        let started = ContinuousClock.now
        let status = await gateway.terminate()
        #expect(status == 0, "gateway log:\n\(gateway.log)")
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(try await busy.responses(50).count == 50)
        #expect(try await client.waitForClose(timeout: .seconds(1)))
        #expect(try await partial.waitForClose(timeout: .seconds(1)))
        #expect(gateway.log.contains("listening on 127.0.0.1:\(gateway.port)"))
        #expect(gateway.log.contains("GET /health 200"))
        #expect(gateway.log.contains("stopped"))
    }

    @Test func unknownRoutesAnswerInTheErrorShape() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let gateway = try await GatewayProcess(loop: loop)
        let client = try await LoopbackClient.connect(loop: loop, port: gateway.port)
        try await client.send("GET /nope HTTP/1.1\r\nHost: g\r\n\r\nDELETE /health HTTP/1.1\r\nHost: g\r\n\r\n")
        let responses = try await client.responses(2)
        #expect(responses.map(\.status) == [404, 405])
        #expect(responses[0].text.contains("\"code\":\"NOT_FOUND\""))
        #expect(responses[1].head.headers[first: "Allow"] == "GET, HEAD")
        let object = try JSONSerialization.jsonObject(with: Data(responses[1].body)) as? [String: Any]
        let error = object?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "METHOD_NOT_ALLOWED")
        #expect(error?["request_id"] as? String == responses[1].head.headers[first: "X-Request-Id"])
        #expect(error?["message"] is String)
        #expect(error?["details"] is [String: Any])
        #expect(await gateway.terminate() == 0)
    }

    @Test func jsonLogFormatWritesJSONLines() async throws {
        let loop = try EventLoop()
        loop.start()
        defer { loop.shutdown() }
        let gateway = try await GatewayProcess(loop: loop, extraArguments: ["--log-format", "json"])
        #expect(await gateway.terminate() == 0)
        let lines = gateway.log.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] is String && object?["message"] is String, "not a JSON log line: \(line)")
        }
    }
}
