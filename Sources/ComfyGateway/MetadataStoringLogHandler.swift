import Logging

/// A log handler whose metadata is a plain stored dictionary: the metadata subscript every such
/// handler needs, written once.
protocol MetadataStoringLogHandler: LogHandler {}

extension MetadataStoringLogHandler {
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}
