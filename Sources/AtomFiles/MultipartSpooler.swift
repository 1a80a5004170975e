import Codecs
package import Models

/// A `multipart/form-data` upload received as a stream: the file part is written to a
/// temporary file as it arrives, the small text fields are kept in memory.
package struct SpooledForm {
    /// The text fields asked for, by name (the last of a repeated name wins).
    package var fields: [String: String]
    /// The file part, if the form had one.
    package var file: SpooledFile?
}

/// The file part of an upload, written to disk.
package struct SpooledFile {
    /// The file name the client sent (not yet checked).
    package let filename: String
    package let contentType: String?
    /// Where the bytes are, under a temporary name.
    package let temporary: TemporaryFile
    /// The first bytes of the file (up to `MultipartSpooler.inspectLength`).
    package let prefix: [UInt8]
}

extension MultipartSpooler {
    /// The boundary of a `multipart/form-data` upload: another content type is a 415
    /// `UNSUPPORTED_MEDIA_TYPE`, a form without a usable boundary a 400 `INVALID_REQUEST`.
    package static func boundary(contentType: String?) throws(GatewayError) -> String {
        guard let contentType, MultipartBoundary.isFormData(contentType: contentType) else {
            throw GatewayError(
                .unsupportedMediaType,
                message: "Uploads must be multipart/form-data, not '\(contentType ?? "no Content-Type")'.",
                details: ["content_type": .string(contentType ?? "")])
        }
        guard let boundary = MultipartBoundary.formData(contentType: contentType) else {
            throw GatewayError(
                .invalidRequest, message: "The multipart/form-data Content-Type has no valid boundary.",
                details: ["content_type": .string(contentType)])
        }
        return boundary
    }
}

/// Streams a multipart body into a `SpooledForm` with the pure `MultipartParser`, holding at
/// most one chunk and a delimiter's length in memory whatever the file size.
package struct MultipartSpooler {
    /// How many leading file bytes are handed to `inspect` before the rest is written.
    package static let inspectLength = 16
    /// The largest text field.
    package static let maxFieldBytes = 64 * 1024

    /// Reads `next` to its end.
    /// - Parameters:
    ///   - boundary: the body's boundary.
    ///   - fileField: the name of the file part (`file`).
    ///   - textFields: the text fields to keep; parts with other names are skipped unread.
    ///   - directory, subfolder: where the temporary file is created.
    ///   - checkFilename: called with the file part's name before anything is written; throw to stop.
    ///   - checkField: called with each text field when it is complete; throw to stop.
    ///   - inspect: called with the file's first bytes before the rest is stored; throw to stop.
    ///   - next: the body's chunks; its errors (a body over the limit) are rethrown unchanged.
    package static func spool(
        boundary: String, fileField: String, textFields: Set<String>, into directory: LocalDirectory,
        checkFilename: (String) throws(GatewayError) -> Void,
        checkField: (String, String) throws(GatewayError) -> Void,
        inspect: ([UInt8]) throws(GatewayError) -> Void,
        next: () async throws -> [UInt8]?
    ) async throws -> SpooledForm {
        var parser = MultipartParser(boundary: boundary)
        var form = SpooledForm(fields: [:], file: nil)
        var current: Receiving = .ignored
        do {
            while let chunk = try await next() {
                parser.append(chunk)
                while let event = try parser.next() {
                    switch event {
                    case .partHead(let head):
                        if head.name == fileField, let filename = head.filename { try checkFilename(filename) }
                        current = try await start(
                            head, fileField: fileField, textFields: textFields, hasFile: form.file != nil, directory)
                    case .body(let bytes):
                        try await current.receive(bytes, inspect: inspect)
                    case .partEnd:
                        try await current.end(into: &form, inspect: inspect)
                        if case .field(let name, _) = current, let value = form.fields[name] {
                            try checkField(name, value)
                        }
                        current = .ignored
                    case .finished:
                        break
                    }
                }
            }
            try parser.finish()
            return form
        } catch {
            await current.discard()
            await form.file?.temporary.discard()
            if let error = error as? MultipartError {
                throw GatewayError(
                    .invalidRequest, message: "The upload is not valid multipart/form-data: \(error).",
                    details: ["reason": .string(error.description)])
            }
            throw error
        }
    }

    private static func start(
        _ head: MultipartPartHead, fileField: String, textFields: Set<String>, hasFile: Bool,
        _ directory: LocalDirectory
    ) async throws(GatewayError) -> Receiving {
        guard let name = head.name else { return .ignored }
        if name == fileField && head.filename != nil {
            guard !hasFile else {
                throw GatewayError(
                    .invalidRequest, status: 422, message: "The form has more than one '\(fileField)' part.",
                    details: ["fields": [["field": .string(fileField), "message": "must be given once"]]])
            }
            let temporary = try await directory.temporaryFile(in: [], for: "upload")
            return .file(FilePart(head: head, temporary: temporary))
        }
        return textFields.contains(name) ? .field(name: name, bytes: []) : .ignored
    }

    /// The part being received.
    private enum Receiving {
        case ignored
        case field(name: String, bytes: [UInt8])
        case file(FilePart)

        mutating func receive(_ bytes: [UInt8], inspect: ([UInt8]) throws(GatewayError) -> Void) async throws {
            switch self {
            case .ignored: return
            case .field(let name, var collected):
                guard collected.count + bytes.count <= MultipartSpooler.maxFieldBytes else {
                    throw GatewayError(
                        .invalidRequest, status: 422, message: "The form field '\(name)' is too long.",
                        details: ["fields": [["field": .string(name), "message": "is over 64 KiB"]]])
                }
                collected += bytes
                self = .field(name: name, bytes: collected)
            case .file(let part):
                try await part.receive(bytes, inspect: inspect)
            }
        }

        func end(into form: inout SpooledForm, inspect: ([UInt8]) throws(GatewayError) -> Void) async throws {
            switch self {
            case .ignored: return
            case .field(let name, let bytes):
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    throw GatewayError(
                        .invalidRequest, status: 422, message: "The form field '\(name)' is not UTF-8 text.",
                        details: ["fields": [["field": .string(name), "message": "is not UTF-8 text"]]])
                }
                form.fields[name] = text
            case .file(let part):
                try await part.flushPrefix(inspect: inspect)
                form.file = SpooledFile(
                    filename: part.head.filename ?? "", contentType: part.head.contentType,
                    temporary: part.temporary, prefix: part.prefix)
            }
        }

        func discard() async {
            if case .file(let part) = self { await part.temporary.discard() }
        }
    }

    /// A file part: its first bytes are held until `inspect` has seen them.
    private final class FilePart {
        let head: MultipartPartHead
        let temporary: TemporaryFile
        var prefix: [UInt8] = []
        var inspected = false

        init(head: MultipartPartHead, temporary: TemporaryFile) {
            self.head = head
            self.temporary = temporary
        }

        func receive(_ bytes: [UInt8], inspect: ([UInt8]) throws(GatewayError) -> Void) async throws {
            guard !inspected else {
                try await temporary.write(bytes)
                return
            }
            prefix += bytes
            if prefix.count >= MultipartSpooler.inspectLength { try await flushPrefix(inspect: inspect) }
        }

        func flushPrefix(inspect: ([UInt8]) throws(GatewayError) -> Void) async throws {
            guard !inspected else { return }
            inspected = true
            try inspect(Array(prefix.prefix(MultipartSpooler.inspectLength)))
            try await temporary.write(prefix)
            prefix = Array(prefix.prefix(MultipartSpooler.inspectLength))
        }
    }
}
