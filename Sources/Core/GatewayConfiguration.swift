/// The gateway's validated settings (see `GatewaySetting` for each one's meaning and default).
package struct GatewayConfiguration: Sendable, Equatable {
    /// How log lines are written.
    package enum LogFormat: String, Sendable {
        case text, json
    }

    package var appName: String
    package var appVersion: String
    package var host: String
    package var port: Int
    package var debug: Bool
    /// ComfyUI's base URL without a trailing slash (`http://127.0.0.1:8188`).
    package var comfyURL: String
    package var comfyTimeoutSeconds: Double
    package var inputDirectory: String
    package var outputDirectory: String
    package var publicBaseURL: String?
    package var maxUploadBytes: Int
    package var apiKeys: [String]
    package var corsOrigins: [String]
    /// swift-log's level name (`info`).
    package var logLevel: String
    package var logFormat: LogFormat
    package var maxConnections: Int
    /// Bytes a gateway WebSocket may have queued unsent before the slow-consumer policy applies.
    package var wsSendQueueBytes: Int
    /// Most unfinished prompts per client id; 0 for no cap.
    package var maxPendingPerClient: Int
    /// Submits per second one gateway WebSocket may send (bursts of twice that).
    package var wsSubmitsPerSecond: Int
    /// How long a graceful shutdown lets in-flight requests and streams finish, in seconds.
    package var shutdownDrainSeconds: Double
    /// The gateway's own state (the ledger's default home).
    package var stateDirectory: String
    /// Where jobs are recorded (`sqlite:<path>` or `sqlite::memory:`).
    package var ledgerURL: String
    /// Hours an ended job is kept.
    package var jobRetentionHours: Int

    /// The settings a reload (SIGHUP) cannot apply to the running process, by variable name,
    /// that differ between `self` and `other`.
    package func restartOnlyChanges(to other: GatewayConfiguration) -> [String] {
        var changed: [String] = []
        func check(_ variable: String, _ keyPath: KeyPath<GatewayConfiguration, some Equatable>) {
            if self[keyPath: keyPath] != other[keyPath: keyPath] { changed.append(variable) }
        }
        check("APP_NAME", \.appName)
        check("APP_VERSION", \.appVersion)
        check("HOST", \.host)
        check("PORT", \.port)
        check("COMFYUI_URL", \.comfyURL)
        check("COMFYUI_TIMEOUT", \.comfyTimeoutSeconds)
        check("INPUT_DIR", \.inputDirectory)
        check("OUTPUT_DIR", \.outputDirectory)
        check("PUBLIC_BASE_URL", \.publicBaseURL)
        check("MAX_UPLOAD_BYTES", \.maxUploadBytes)
        check("LOG_FORMAT", \.logFormat)
        check("MAX_CONNECTIONS", \.maxConnections)
        check("WS_SEND_QUEUE_BYTES", \.wsSendQueueBytes)
        check("MAX_PENDING_PER_CLIENT", \.maxPendingPerClient)
        check("WS_SUBMITS_PER_SECOND", \.wsSubmitsPerSecond)
        check("SHUTDOWN_DRAIN_SECONDS", \.shutdownDrainSeconds)
        check("STATE_DIR", \.stateDirectory)
        check("LEDGER_URL", \.ledgerURL)
        check("JOB_RETENTION_HOURS", \.jobRetentionHours)
        return changed
    }
}
