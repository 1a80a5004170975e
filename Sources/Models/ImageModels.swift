package import Codecs

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
