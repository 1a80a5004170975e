import AtomComfyHTTP
import AtomFiles
import AtomValidation
import Codecs
package import Models

extension ImageStore {
    /// Receives a `multipart/form-data` upload as it streams in: the `file` part is sniffed
    /// (PNG, JPEG, WebP or GIF, else 415) and spooled to a temporary file, the other fields
    /// (`overwrite`, `subfolder`, `type`) are checked, the file is forwarded to ComfyUI as a
    /// streamed multipart request, and the temporary file becomes the local copy under the name
    /// ComfyUI reports (under `INPUT_DIR/.temp` for `type=temp`, which ComfyUI keeps apart).
    /// Errors of `body` (a body over the limit) are rethrown unchanged.
    package func upload(
        contentType: String?, base: String, body: () async throws -> [UInt8]?
    ) async throws -> UploadResult {
        let boundary = try MultipartSpooler.boundary(contentType: contentType)
        var kind: ImageKind?
        let form = try await MultipartSpooler.spool(
            boundary: boundary, fileField: "file", textFields: ["overwrite", "subfolder", "type"], into: inputs,
            checkFilename: { (name: String) throws(GatewayError) in
                guard !name.isEmpty else { throw Self.invalidField("file", "has no file name") }
                try SafeName.checkFilename(name, field: "file name")
            },
            checkField: { (name: String, value: String) throws(GatewayError) in
                if name == "subfolder" { try SafeName.checkSubfolder(value) }
            },
            inspect: { (prefix: [UInt8]) throws(GatewayError) in
                kind = ImageKind.sniff(prefix)
                guard kind != nil else { throw Self.notAnImage }
            }, next: body)
        guard let file = form.file else {
            throw Self.invalidField("file", "is required (a file part named 'file')")
        }
        do {
            let options = try Self.options(form.fields)
            guard !file.filename.isEmpty else { throw Self.invalidField("file", "has no file name") }
            try SafeName.checkFilename(file.filename, field: "file name")
            let subfolder = try SafeName.checkSubfolder(options.subfolder)
            guard let kind else { throw Self.notAnImage }
            // ComfyUI keeps input and temp files apart; so does the local copy. Its folder is
            // made (and checked: no symbolic link on the way) before ComfyUI sees the file.
            let localFolder = options.type == .temp ? [Self.temporaryUploads] + subfolder : subfolder
            try await inputs.makeDirectories(localFolder)
            let reader = try await file.temporary.reopenForReading()
            let uploaded: UploadedImage
            do {
                uploaded = try await api.uploadImage(
                    .stream(length: file.temporary.size, next: { try await reader.next() }), filename: file.filename,
                    contentType: kind.mediaType, subfolder: options.subfolder, type: options.type.rawValue,
                    overwrite: options.overwrite)
            } catch {
                await reader.close()
                throw error
            }
            await reader.close()
            try SafeName.checkFilename(uploaded.name)
            try await file.temporary.commit(as: uploaded.name, in: localFolder)
            let location = FileLocation(filename: uploaded.name, subfolder: options.subfolder, type: options.type)
            return UploadResult(
                location: location, size: file.temporary.size, url: Self.downloadURL(location, base: base))
        } catch {
            await file.temporary.discard()
            throw error
        }
    }

    /// The folder under `INPUT_DIR` that keeps the local copies of `type=temp` uploads.
    static let temporaryUploads = ".temp"

    static let notAnImage = GatewayError(
        .unsupportedMediaType, message: "The file is not a PNG, JPEG, WebP or GIF image (checked by its content).",
        details: ["accepted": ["image/png", "image/jpeg", "image/webp", "image/gif"]])

    /// The form's settings, each checked.
    static func options(_ fields: [String: String]) throws(GatewayError) -> UploadOptions {
        var options = UploadOptions()
        if let overwrite = fields["overwrite"] {
            switch overwrite.lowercased() {
            case "true", "1", "yes", "on": options.overwrite = true
            case "false", "0", "no", "off", "": options.overwrite = false
            default: throw invalidField("overwrite", "must be true or false")
            }
        }
        options.subfolder = fields["subfolder"] ?? ""
        if let type = fields["type"] {
            guard let fileType = FileType(rawValue: type), fileType != .output else {
                throw invalidField("type", "must be input or temp")
            }
            options.type = fileType
        }
        return options
    }

    static func invalidField(_ field: String, _ message: String) -> GatewayError {
        GatewayError(
            .invalidRequest, status: 422, message: "Invalid form field '\(field)': it \(message).",
            details: ["fields": [["field": .string(field), "message": .string(message)]]])
    }
}
