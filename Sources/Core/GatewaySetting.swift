/// One configuration setting: its environment variable, its command-line flag, its default and
/// its help text. `GatewaySetting.all` is the single list that `--help`, the documented env file
/// and the loader are built from.
package struct GatewaySetting: Sendable, Hashable {
    /// The environment variable (`COMFYUI_HOST`).
    package let variable: String
    /// The default as written in the env file; nil when unset by default.
    package let defaultValue: String?
    package let help: String

    /// The command-line flag (`--comfyui-host`).
    package var flag: String { "--" + variable.lowercased().replacingUnderscores() }

    /// The swift-configuration key; the environment provider maps it back to `variable`.
    package var key: String { variable.lowercased() }

    package static let appName = GatewaySetting(
        variable: "APP_NAME", defaultValue: "comfy-gateway", help: "Name shown in logs and the OpenAPI document.")
    package static let appVersion = GatewaySetting(
        variable: "APP_VERSION", defaultValue: GatewayVersion.current,
        help: "Version shown in logs and the OpenAPI document.")
    package static let host = GatewaySetting(
        variable: "HOST", defaultValue: "0.0.0.0", help: "Address to listen on (IPv4 or IPv6 literal, or localhost).")
    package static let port = GatewaySetting(
        variable: "PORT", defaultValue: "8000", help: "Port to listen on, 1-65535.")
    package static let debug = GatewaySetting(
        variable: "DEBUG", defaultValue: "false", help: "true/false; true logs at debug level unless LOG_LEVEL is set.")
    package static let comfyHost = GatewaySetting(
        variable: "COMFYUI_HOST", defaultValue: "127.0.0.1", help: "ComfyUI host (ignored when COMFYUI_URL is set).")
    package static let comfyPort = GatewaySetting(
        variable: "COMFYUI_PORT", defaultValue: "8188", help: "ComfyUI port, 1-65535 (ignored when COMFYUI_URL is set)."
    )
    package static let comfyTimeout = GatewaySetting(
        variable: "COMFYUI_TIMEOUT", defaultValue: "300",
        help: "Seconds to wait for ComfyUI before answering 504 TASK_TIMEOUT.")
    package static let comfyURL = GatewaySetting(
        variable: "COMFYUI_URL", defaultValue: nil,
        help: "ComfyUI base URL (http://host:port[/path]); overrides COMFYUI_HOST and COMFYUI_PORT.")
    package static let inputDir = GatewaySetting(
        variable: "INPUT_DIR", defaultValue: "input", help: "Directory for uploaded input images.")
    package static let outputDir = GatewaySetting(
        variable: "OUTPUT_DIR", defaultValue: "output", help: "Directory where downloaded output images are cached.")
    package static let publicBaseURL = GatewaySetting(
        variable: "PUBLIC_BASE_URL", defaultValue: nil,
        help: "Base URL clients reach the gateway at; default: built from the request's Host.")
    package static let maxUploadBytes = GatewaySetting(
        variable: "MAX_UPLOAD_BYTES", defaultValue: "104857600",
        help: "Largest accepted request body for uploads, in bytes (413 beyond).")
    package static let apiKeys = GatewaySetting(
        variable: "API_KEYS", defaultValue: nil, help: "Comma-separated API keys; when set, requests must carry one.")
    package static let corsOrigins = GatewaySetting(
        variable: "CORS_ORIGINS", defaultValue: nil, help: "Comma-separated allowed CORS origins (* for any).")
    package static let logLevel = GatewaySetting(
        variable: "LOG_LEVEL", defaultValue: "info", help: "trace, debug, info, notice, warning, error or critical.")
    package static let logFormat = GatewaySetting(
        variable: "LOG_FORMAT", defaultValue: "text", help: "text or json (one JSON object per line).")
    package static let maxConnections = GatewaySetting(
        variable: "MAX_CONNECTIONS", defaultValue: "10000",
        help: "Most simultaneous client connections; more are answered 503.")
    package static let wsSendQueueBytes = GatewaySetting(
        variable: "WS_SEND_QUEUE_BYTES", defaultValue: "1048576",
        help:
            "Bytes a gateway WebSocket may have waiting unsent; over it for 2 s without progress, it is closed (1008).")
    package static let maxPendingPerClient = GatewaySetting(
        variable: "MAX_PENDING_PER_CLIENT", defaultValue: "100",
        help: "Most unfinished prompts one client id may have; more submits get 429 QUEUE_FULL (0: no cap).")
    package static let wsSubmitsPerSecond = GatewaySetting(
        variable: "WS_SUBMITS_PER_SECOND", defaultValue: "20",
        help: "Submits one gateway WebSocket may send per second (bursts of twice that); more get QUEUE_FULL.")
    package static let shutdownDrain = GatewaySetting(
        variable: "SHUTDOWN_DRAIN_SECONDS", defaultValue: "10",
        help: "Seconds a graceful shutdown (SIGTERM) lets in-flight requests and downloads finish.")

    package static let stateDir = GatewaySetting(
        variable: "STATE_DIR", defaultValue: "state",
        help: "Directory for the gateway's own state (the job ledger); created when missing.")
    package static let ledgerURL = GatewaySetting(
        variable: "LEDGER_URL", defaultValue: nil,
        help: "Where jobs are recorded: sqlite:<path>, sqlite::memory: or none; default sqlite:<STATE_DIR>/jobs.db.")
    package static let jobRetentionHours = GatewaySetting(
        variable: "JOB_RETENTION_HOURS", defaultValue: "168",
        help: "Hours an ended job is kept in the ledger (and answered) before it is pruned.")

    /// Every setting, in the order they are documented.
    package static let all: [GatewaySetting] = [
        appName, appVersion, host, port, debug, comfyHost, comfyPort, comfyTimeout, comfyURL, inputDir, outputDir,
        publicBaseURL, maxUploadBytes, apiKeys, corsOrigins, logLevel, logFormat, maxConnections,
        wsSendQueueBytes, maxPendingPerClient, wsSubmitsPerSecond, shutdownDrain, stateDir, ledgerURL,
        jobRetentionHours,
    ]
}

/// The gateway's version, reported by `--version`, logs and `APP_VERSION`'s default.
package enum GatewayVersion {
    package static let current = "0.1.0"
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
