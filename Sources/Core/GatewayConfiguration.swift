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
}
