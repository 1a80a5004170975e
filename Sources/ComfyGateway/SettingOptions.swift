import ArgumentParser
import Core

/// One command-line option per setting, named after its environment variable
/// (`COMFYUI_HOST` is `--comfyui-host`).
struct SettingOptions: ParsableArguments {
    @Option(name: .customLong("app-name"), help: help(.appName)) var appName: String?
    @Option(name: .customLong("app-version"), help: help(.appVersion)) var appVersion: String?
    @Option(name: .customLong("host"), help: help(.host)) var host: String?
    @Option(name: .customLong("port"), help: help(.port)) var port: String?
    @Option(name: .customLong("debug"), help: help(.debug)) var debug: String?
    @Option(name: .customLong("comfyui-host"), help: help(.comfyHost)) var comfyHost: String?
    @Option(name: .customLong("comfyui-port"), help: help(.comfyPort)) var comfyPort: String?
    @Option(name: .customLong("comfyui-timeout"), help: help(.comfyTimeout)) var comfyTimeout: String?
    @Option(name: .customLong("comfyui-url"), help: help(.comfyURL)) var comfyURL: String?
    @Option(name: .customLong("input-dir"), help: help(.inputDir)) var inputDir: String?
    @Option(name: .customLong("output-dir"), help: help(.outputDir)) var outputDir: String?
    @Option(name: .customLong("public-base-url"), help: help(.publicBaseURL)) var publicBaseURL: String?
    @Option(name: .customLong("max-upload-bytes"), help: help(.maxUploadBytes)) var maxUploadBytes: String?
    @Option(name: .customLong("api-keys"), help: help(.apiKeys)) var apiKeys: String?
    @Option(name: .customLong("cors-origins"), help: help(.corsOrigins)) var corsOrigins: String?
    @Option(name: .customLong("log-level"), help: help(.logLevel)) var logLevel: String?
    @Option(name: .customLong("log-format"), help: help(.logFormat)) var logFormat: String?
    @Option(name: .customLong("max-connections"), help: help(.maxConnections)) var maxConnections: String?
    @Option(name: .customLong("ws-send-queue-bytes"), help: help(.wsSendQueueBytes)) var wsSendQueueBytes: String?
    @Option(name: .customLong("max-pending-per-client"), help: help(.maxPendingPerClient))
    var maxPendingPerClient: String?
    @Option(name: .customLong("ws-submits-per-second"), help: help(.wsSubmitsPerSecond))
    var wsSubmitsPerSecond: String?
    @Option(name: .customLong("shutdown-drain-seconds"), help: help(.shutdownDrain)) var shutdownDrain: String?
    @Option(name: .customLong("state-dir"), help: help(.stateDir)) var stateDir: String?
    @Option(name: .customLong("ledger-url"), help: help(.ledgerURL)) var ledgerURL: String?
    @Option(name: .customLong("job-retention-hours"), help: help(.jobRetentionHours)) var jobRetentionHours: String?

    /// The options given, by environment variable name.
    var values: [String: String] {
        let pairs: [(GatewaySetting, String?)] = [
            (.appName, appName), (.appVersion, appVersion), (.host, host), (.port, port), (.debug, debug),
            (.comfyHost, comfyHost), (.comfyPort, comfyPort), (.comfyTimeout, comfyTimeout), (.comfyURL, comfyURL),
            (.inputDir, inputDir), (.outputDir, outputDir), (.publicBaseURL, publicBaseURL),
            (.maxUploadBytes, maxUploadBytes), (.apiKeys, apiKeys), (.corsOrigins, corsOrigins),
            (.logLevel, logLevel), (.logFormat, logFormat), (.maxConnections, maxConnections),
            (.wsSendQueueBytes, wsSendQueueBytes), (.maxPendingPerClient, maxPendingPerClient),
            (.wsSubmitsPerSecond, wsSubmitsPerSecond), (.shutdownDrain, shutdownDrain), (.stateDir, stateDir),
            (.ledgerURL, ledgerURL), (.jobRetentionHours, jobRetentionHours),
        ]
        var result: [String: String] = [:]
        for (setting, value) in pairs {
            if let value { result[setting.variable] = value }
        }
        return result
    }

    private static func help(_ setting: GatewaySetting) -> ArgumentHelp {
        let fallback = setting.defaultValue.map { " (default: \($0))" } ?? ""
        return ArgumentHelp("\(setting.help)\(fallback) [env: \(setting.variable)]", valueName: "value")
    }
}
