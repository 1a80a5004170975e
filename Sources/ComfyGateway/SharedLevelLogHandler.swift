import Logging

/// Wraps a handler so that its level is the process-wide one (`GatewayLogging.setLevel`).
struct SharedLevelLogHandler: LogHandler {
    var inner: any LogHandler

    var logLevel: Logger.Level {
        get { GatewayLogging.currentLevel }
        set {}
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        inner.log(event: event)
    }
}
