/// ComfyUI's folders for files.
package enum FileType: String, Sendable, CaseIterable {
    case output, input, temp
}

/// A file as ComfyUI addresses it: name, subfolder and folder type.
package struct FileLocation: Sendable, Equatable {
    package var filename: String
    package var subfolder: String
    package var type: FileType

    package init(filename: String, subfolder: String = "", type: FileType = .output) {
        self.filename = filename
        self.subfolder = subfolder
        self.type = type
    }

    /// `filename=..&subfolder=..&type=..`, percent-encoded.
    package var query: String {
        "filename=\(QueryEncoding.encode(filename))&subfolder=\(QueryEncoding.encode(subfolder))&type=\(type.rawValue)"
    }
}

/// `POST /api/v1/images/upload`: the form's settings (the file itself is streamed).
package struct UploadOptions: Sendable, Equatable {
    package var overwrite: Bool
    package var subfolder: String
    package var type: FileType

    package init(overwrite: Bool = false, subfolder: String = "", type: FileType = .input) {
        self.overwrite = overwrite
        self.subfolder = subfolder
        self.type = type
    }
}

/// What an upload stored.
package struct UploadResult: APIResponse, Equatable {
    package var location: FileLocation
    package var size: Int
    package var url: String

    package init(location: FileLocation, size: Int, url: String) {
        self.location = location
        self.size = size
        self.url = url
    }

    package var json: JSONValue {
        [
            "name": .string(location.filename), "subfolder": .string(location.subfolder),
            "type": .string(location.type.rawValue), "size": .int(Int64(size)), "url": .string(url),
        ]
    }
}

/// `GET /api/v1/images/url`.
package struct ImageURLs: APIResponse, Equatable {
    package var url: String
    package var comfyURL: String

    package init(url: String, comfyURL: String) {
        self.url = url
        self.comfyURL = comfyURL
    }

    package var json: JSONValue { ["url": .string(url), "comfyui_url": .string(comfyURL)] }
}

/// RFC 3986 percent-encoding of query values (everything but unreserved characters).
package enum QueryEncoding {
    package static func encode(_ value: String) -> String {
        var encoded = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return encoded
    }
}

/// Where a streamed file body writes its chunks (each call may wait while the client is slow).
package typealias ByteSink = @Sendable ([UInt8]) async throws -> Void

/// The bytes of an image being served, with the headers that describe them.
package struct ImageContent: Sendable {
    package var contentType: String
    /// The length when known up front (always, for the cache and for ComfyUI's `/view`).
    package var length: Int?
    /// A strong, quoted entity tag: the same whether served from the cache or from ComfyUI.
    package var etag: String
    package var cacheControl: String
    package var contentDisposition: String
    /// Writes the bytes to the sink, to the end; throws when the source or the sink fails.
    package var body: @Sendable (_ sink: ByteSink) async throws -> Void

    package init(
        contentType: String, length: Int?, etag: String, cacheControl: String, contentDisposition: String,
        body: @escaping @Sendable (_ sink: ByteSink) async throws -> Void
    ) {
        self.contentType = contentType
        self.length = length
        self.etag = etag
        self.cacheControl = cacheControl
        self.contentDisposition = contentDisposition
        self.body = body
    }
}

/// The answer to a download: the image, or "not modified" for a matching `If-None-Match`.
package enum ImageDelivery: Sendable {
    case content(ImageContent)
    case notModified(etag: String, cacheControl: String)
}
