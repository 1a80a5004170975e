/// The image formats uploads may have, recognised by their first bytes (magic numbers), never
/// by the file name.
package enum ImageKind: String, Sendable, CaseIterable {
    case png, jpeg, webp, gif

    /// How many leading bytes `sniff` needs.
    package static let sniffLength = 12

    /// The format whose signature `prefix` starts with, or nil.
    package static func sniff(_ prefix: some Collection<UInt8>) -> ImageKind? {
        let bytes = Array(prefix.prefix(sniffLength))
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.count >= 12 && bytes.starts(with: Array("RIFF".utf8)) && Array(bytes[8..<12]) == Array("WEBP".utf8) {
            return .webp
        }
        if bytes.starts(with: Array("GIF87a".utf8)) || bytes.starts(with: Array("GIF89a".utf8)) { return .gif }
        return nil
    }

    /// The media type (`image/png`).
    package var mediaType: String { "image/\(rawValue)" }
}

/// Media types of files the gateway serves, from the file name's extension.
package enum MediaType {
    private static let byExtension: [String: String] = [
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
        "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff", "svg": "image/svg+xml",
        "mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime", "mkv": "video/x-matroska",
        "mp3": "audio/mpeg", "flac": "audio/flac", "wav": "audio/wav", "ogg": "audio/ogg", "opus": "audio/opus",
        "json": "application/json", "txt": "text/plain; charset=utf-8", "latent": "application/octet-stream",
        "safetensors": "application/octet-stream", "glb": "model/gltf-binary",
    ]

    /// The media type for `filename`, `application/octet-stream` when the extension is unknown.
    package static func forFilename(_ filename: String) -> String {
        guard let dot = filename.lastIndex(of: ".") else { return "application/octet-stream" }
        return byExtension[filename[filename.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }
}
