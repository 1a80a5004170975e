import Core
import Foundation
import Testing

/// Configuration: precedence (flag > environment > env file > default), quoting, validation
/// messages, and that the documented env file lists every setting.
struct ConfigurationLoaderTests {
    static func envFile(_ contents: String) throws -> String {
        let path = NSTemporaryDirectory() + "gateway-\(UUID().uuidString).env"
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaults() async throws {
        let file = try Self.envFile("")
        let configuration = try await ConfigurationLoader.load(flags: [:], environment: [:], envFile: file)
        #expect(configuration.port == 8000)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.comfyURL == "http://127.0.0.1:8188")
        #expect(configuration.comfyTimeoutSeconds == 300)
        #expect(configuration.logLevel == "info")
        #expect(configuration.logFormat == .text)
        #expect(configuration.apiKeys.isEmpty)
        #expect(configuration.maxUploadBytes == 104_857_600)
        #expect(configuration.inputDirectory == "input" && configuration.outputDirectory == "output")
    }

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() async throws {
        let file = try Self.envFile("PORT=1001\nCOMFYUI_PORT=\"9001\"\nAPP_NAME='from file'\n# HOST=ignored\n")
        let all = try await ConfigurationLoader.load(
            flags: ["PORT": "3003"], environment: ["PORT": "2002", "COMFYUI_PORT": "9002"], envFile: file)
        #expect(all.port == 3003)
        #expect(all.comfyURL == "http://127.0.0.1:9002")
        #expect(all.appName == "from file")
        let noFlag = try await ConfigurationLoader.load(flags: [:], environment: ["PORT": "2002"], envFile: file)
        #expect(noFlag.port == 2002)
        let fileOnly = try await ConfigurationLoader.load(flags: [:], environment: [:], envFile: file)
        #expect(fileOnly.port == 1001)
        #expect(fileOnly.comfyURL == "http://127.0.0.1:9001")
        #expect(fileOnly.host == "0.0.0.0")
    }

    @Test func comfyURLOverridesHostAndPort() async throws {
        let file = try Self.envFile("")
        let configuration = try await ConfigurationLoader.load(
            flags: [:], environment: ["COMFYUI_URL": "http://comfy.example:9443/comfy/", "COMFYUI_HOST": "other"],
            envFile: file)
        #expect(configuration.comfyURL == "http://comfy.example:9443/comfy")
    }

    @Test func debugLowersTheLogLevelUnlessLogLevelIsSet() async throws {
        let file = try Self.envFile("")
        #expect(
            try await ConfigurationLoader.load(flags: [:], environment: ["DEBUG": "True"], envFile: file).logLevel
                == "debug")
        #expect(
            try await ConfigurationLoader.load(
                flags: [:], environment: ["DEBUG": "true", "LOG_LEVEL": "warning"], envFile: file
            ).logLevel
                == "warning")
    }

    @Test func listsAreSplitAndTrimmed() async throws {
        let file = try Self.envFile("API_KEYS= a , b,,c \n")
        #expect(
            try await ConfigurationLoader.load(flags: [:], environment: [:], envFile: file).apiKeys == ["a", "b", "c"])
    }

    @Test(arguments: [
        (["PORT": "abc"], "PORT must be 1-65535, got 'abc'"),
        (["PORT": "0"], "PORT must be 1-65535, got '0'"),
        (["PORT": "65536"], "PORT must be 1-65535, got '65536'"),
        (["COMFYUI_PORT": "-1"], "COMFYUI_PORT must be 1-65535, got '-1'"),
        (["COMFYUI_TIMEOUT": "soon"], "COMFYUI_TIMEOUT must be a positive number of seconds, got 'soon'"),
        (
            ["COMFYUI_URL": "ftp://x"],
            "COMFYUI_URL must be an http:// URL with a host (and optionally a path), got 'ftp://x'"
        ),
        (
            ["COMFYUI_URL": "https://comfy.example"],
            "COMFYUI_URL must be an http:// URL with a host (and optionally a path), got 'https://comfy.example' "
                + "(the gateway does not speak TLS to ComfyUI: reach it over a private network)"
        ),
        (["DEBUG": "maybe"], "DEBUG must be true or false, got 'maybe'"),
        (
            ["LOG_LEVEL": "loud"],
            "LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical, got 'loud'"
        ),
        (["LOG_FORMAT": "xml"], "LOG_FORMAT must be text or json, got 'xml'"),
        (["MAX_UPLOAD_BYTES": "0"], "MAX_UPLOAD_BYTES must be 1-1099511627776, got '0'"),
        (["PUBLIC_BASE_URL": "example.com"], "PUBLIC_BASE_URL must be an http:// or https:// URL, got 'example.com'"),
    ])
    func badValuesAreOneClearLine(environment: [String: String], message: String) async throws {
        let file = try Self.envFile("")
        await #expect {
            _ = try await ConfigurationLoader.load(flags: [:], environment: environment, envFile: file)
        } throws: { error in
            (error as? ConfigurationError)?.description == message
        }
    }

    @Test func missingExplicitEnvFileIsAnError() async {
        await #expect(throws: ConfigurationError.self) {
            _ = try await ConfigurationLoader.load(flags: [:], environment: [:], envFile: "/nonexistent/gateway.env")
        }
    }

    @Test func documentedEnvFileListsEverySettingWithItsDefault() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("config/comfy-gateway.env"), encoding: .utf8)
        for setting in GatewaySetting.all {
            let line = "\(setting.variable)=\(setting.defaultValue ?? "")"
            #expect(text.contains("\n" + line + "\n") || text.contains("\n# " + line + "\n"), "missing \(line)")
        }
    }
}
