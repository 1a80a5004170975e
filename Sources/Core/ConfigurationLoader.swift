import Codecs
import Configuration
import SystemPackage

/// Reads the settings with swift-configuration, in the order of precedence that
/// `docs/api-contract.md` ("Configuration") fixes:
/// command-line flag > environment > env file (`.env` in the working directory, or `--env-file`)
/// > built-in default; then validates every value.
///
/// Values may be wrapped in matching single or double quotes (as the seed's `.env` writes them);
/// the quotes are removed.
package enum ConfigurationLoader {
    /// Loads and validates.
    /// - Parameters:
    ///   - flags: values given on the command line, by environment variable name.
    ///   - environment: the process environment.
    ///   - envFile: an explicit env file (must exist), or nil for `.env` if present.
    package static func load(
        flags: [String: String], environment: [String: String], envFile: String?
    ) async throws -> GatewayConfiguration {
        let fileProvider: EnvironmentVariablesProvider
        do {
            fileProvider = try await EnvironmentVariablesProvider(
                environmentFilePath: FilePath(envFile ?? ".env"), allowMissing: envFile == nil)
        } catch {
            throw ConfigurationError("env file '\(envFile ?? ".env")' could not be read: \(error)")
        }
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for (variable, value) in flags {
            flagValues[AbsoluteConfigKey([variable.lowercased()])] = ConfigValue(.string(value), isSecret: false)
        }
        let reader = ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: flagValues),
            EnvironmentVariablesProvider(environmentVariables: environment),
            fileProvider,
        ])
        return try validate { setting in
            reader.string(forKey: ConfigKey(setting.key)).map(unquote)
        }
    }

    /// The values the env file sets, by variable name (quotes removed); empty when there is no
    /// file. A reload compares them with the environment: systemd's `EnvironmentFile=` copies the
    /// file into the environment at start, and such copies must not hide a later edit of the file.
    package static func fileValues(envFile: String?) async -> [String: String] {
        guard
            let provider = try? await EnvironmentVariablesProvider(
                environmentFilePath: FilePath(envFile ?? ".env"), allowMissing: true)
        else { return [:] }
        let reader = ConfigReader(provider: provider)
        var values: [String: String] = [:]
        for setting in GatewaySetting.all {
            if let value = reader.string(forKey: ConfigKey(setting.key)) { values[setting.variable] = unquote(value) }
        }
        return values
    }

    /// Loads the configuration again for a reload (SIGHUP): as `load`, except that an environment
    /// variable whose value is the one the env file had at start (`fileValuesAtStart`) is taken
    /// to be a copy of the file, and the file as it is now is read instead.
    package static func reload(
        flags: [String: String], environment: [String: String], envFile: String?,
        fileValuesAtStart: [String: String]
    ) async throws -> GatewayConfiguration {
        let ownEnvironment = environment.filter { name, value in
            guard let fileValue = fileValuesAtStart[name] else { return true }
            return unquote(value) != fileValue
        }
        return try await load(flags: flags, environment: ownEnvironment, envFile: envFile)
    }

    /// Builds the configuration from raw values (`value(setting)` is nil when unset).
    package static func validate(_ value: (GatewaySetting) -> String?) throws -> GatewayConfiguration {
        func text(_ setting: GatewaySetting) -> String { value(setting) ?? setting.defaultValue ?? "" }
        func optional(_ setting: GatewaySetting) -> String? {
            guard let raw = value(setting), !raw.isEmpty else { return nil }
            return raw
        }
        func integer(_ setting: GatewaySetting, in range: ClosedRange<Int>) throws -> Int {
            let raw = text(setting)
            guard let number = Int(raw), range.contains(number) else {
                throw ConfigurationError(
                    "\(setting.variable) must be \(range.lowerBound)-\(range.upperBound), got '\(raw)'")
            }
            return number
        }
        func list(_ setting: GatewaySetting) -> [String] {
            (optional(setting) ?? "").split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
        }

        let debugText = text(.debug).lowercased()
        guard let debug = ["true": true, "1": true, "yes": true, "false": false, "0": false, "no": false][debugText]
        else {
            throw ConfigurationError("DEBUG must be true or false, got '\(text(.debug))'")
        }
        let port = try integer(.port, in: 1...65535)
        let comfyPort = try integer(.comfyPort, in: 1...65535)
        let timeoutText = text(.comfyTimeout)
        guard let timeout = Double(timeoutText), timeout > 0, timeout.isFinite else {
            throw ConfigurationError("COMFYUI_TIMEOUT must be a positive number of seconds, got '\(timeoutText)'")
        }
        let comfyURL: String
        if let url = optional(.comfyURL) {
            guard let parsed = EndpointURL(url), parsed.scheme == .http, !url.contains("?"), !url.contains("#") else {
                throw ConfigurationError(
                    "COMFYUI_URL must be an http:// URL with a host (and optionally a path), got '\(url)'"
                        + (url.lowercased().hasPrefix("https://")
                            ? " (the gateway does not speak TLS to ComfyUI: reach it over a private network)" : ""))
            }
            comfyURL = parsed.normalized
        } else {
            let host = text(.comfyHost)
            guard !host.isEmpty, !host.contains("/") else {
                throw ConfigurationError("COMFYUI_HOST must be a host name or address, got '\(host)'")
            }
            comfyURL = "http://\(host.contains(":") ? "[\(host)]" : host):\(comfyPort)"
        }
        var publicBaseURL: String?
        if let url = optional(.publicBaseURL) {
            guard let parsed = EndpointURL(url), parsed.scheme == .http || parsed.scheme == .https else {
                throw ConfigurationError("PUBLIC_BASE_URL must be an http:// or https:// URL, got '\(url)'")
            }
            publicBaseURL = parsed.normalized
        }
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        let explicitLevel = value(.logLevel)
        let logLevel = (explicitLevel ?? (debug ? "debug" : text(.logLevel))).lowercased()
        guard levels.contains(logLevel) else {
            throw ConfigurationError(
                "LOG_LEVEL must be one of \(levels.joined(separator: ", ")), got '\(explicitLevel ?? "")'")
        }
        guard let logFormat = GatewayConfiguration.LogFormat(rawValue: text(.logFormat).lowercased()) else {
            throw ConfigurationError("LOG_FORMAT must be text or json, got '\(text(.logFormat))'")
        }
        let drainText = text(.shutdownDrain)
        guard let drain = Double(drainText), drain >= 0, drain <= 3600 else {
            throw ConfigurationError("SHUTDOWN_DRAIN_SECONDS must be 0-3600 seconds, got '\(drainText)'")
        }
        let host = text(.host)
        guard !host.isEmpty else { throw ConfigurationError("HOST must not be empty") }
        for directory in [GatewaySetting.inputDir, .outputDir, .stateDir] where text(directory).isEmpty {
            throw ConfigurationError("\(directory.variable) must not be empty")
        }
        let stateDirectory = text(.stateDir)
        let ledgerURL = optional(.ledgerURL) ?? "sqlite:" + stateDirectory + "/jobs.db"
        guard ledgerURL == "none" || (ledgerURL.hasPrefix("sqlite:") && ledgerURL.count > "sqlite:".count) else {
            throw ConfigurationError("LEDGER_URL must be sqlite:<path>, sqlite::memory: or none, got '\(ledgerURL)'")
        }
        return GatewayConfiguration(
            appName: text(.appName), appVersion: text(.appVersion), host: host, port: port, debug: debug,
            comfyURL: comfyURL, comfyTimeoutSeconds: timeout, inputDirectory: text(.inputDir),
            outputDirectory: text(.outputDir), publicBaseURL: publicBaseURL,
            maxUploadBytes: try integer(.maxUploadBytes, in: 1...(1 << 40)), apiKeys: list(.apiKeys),
            corsOrigins: list(.corsOrigins), logLevel: logLevel, logFormat: logFormat,
            maxConnections: try integer(.maxConnections, in: 1...1_000_000),
            wsSendQueueBytes: try integer(.wsSendQueueBytes, in: 1024...(1 << 32)),
            maxPendingPerClient: try integer(.maxPendingPerClient, in: 0...1_000_000),
            wsSubmitsPerSecond: try integer(.wsSubmitsPerSecond, in: 1...100_000), shutdownDrainSeconds: drain,
            stateDirectory: stateDirectory, ledgerURL: ledgerURL,
            jobRetentionHours: try integer(.jobRetentionHours, in: 1...87_600))
    }

    /// Removes one pair of matching surrounding quotes.
    static func unquote(_ value: String) -> String {
        guard value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first else {
            return value
        }
        return String(value.dropFirst().dropLast())
    }
}

extension String {
    var trimmed: String {
        var slice = self[...]
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
