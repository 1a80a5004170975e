/// Writes `multipart/form-data` bodies (RFC 7578) piece by piece, so a file part can be streamed:
/// the caller sends `field`s, then `fileHeader`, the file's bytes, `fileEnd()`, and `closing()`.
/// Names and file names are quoted the way browsers do (HTML's form encoding): `"` becomes
/// `%22`, CR and LF become `%0D` and `%0A`.
package struct MultipartFormWriter: Sendable {
    package let boundary: String

    /// A writer with a random 32-hex-digit boundary (never found inside a PNG by chance).
    package init() {
        var generator = SystemRandomNumberGenerator()
        let digits = (0..<2).map { _ in String(generator.next() as UInt64, radix: 16) }
        self.init(boundary: "comfy-gateway-" + digits.joined())
    }

    package init(boundary: String) {
        self.boundary = boundary
    }

    /// The request's `Content-Type`.
    package var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    /// A complete text field.
    package func field(name: String, value: String) -> [UInt8] {
        Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(Self.quoted(name))\"\r\n\r\n\(value)\r\n".utf8)
    }

    /// The head of a file part; its bytes follow, then `fileEnd()`.
    package func fileHeader(name: String, filename: String, contentType: String) -> [UInt8] {
        Array(
            ("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(Self.quoted(name))\"; "
                + "filename=\"\(Self.quoted(filename))\"\r\nContent-Type: \(contentType)\r\n\r\n").utf8)
    }

    /// Ends a file part.
    package func fileEnd() -> [UInt8] { [13, 10] }

    /// Ends the body.
    package func closing() -> [UInt8] { Array("--\(boundary)--\r\n".utf8) }

    static func quoted(_ text: String) -> String {
        var result = ""
        for character in text.unicodeScalars {
            switch character {
            case "\"": result += "%22"
            case "\r": result += "%0D"
            case "\n": result += "%0A"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }
}
