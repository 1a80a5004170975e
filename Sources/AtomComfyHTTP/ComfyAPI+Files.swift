package import Client
import Codecs
package import Models

/// Where ComfyUI stored an upload (use `name`: it differs from the name sent when a different
/// file already had it).
package struct UploadedImage: Sendable, Equatable {
    package let name: String
    package let subfolder: String
    package let type: String

    package init(name: String, subfolder: String, type: String) {
        self.name = name
        self.subfolder = subfolder
        self.type = type
    }
}

/// The bytes of an upload: in memory, or streamed (a file from disk) with a known length.
package enum UploadContent {
    case bytes([UInt8])
    case stream(length: Int, next: () async throws -> [UInt8]?)
}

/// A file ComfyUI is sending: its type and length as announced, and the body as it arrives
/// (read it to the end, or drop it to close the connection).
package struct ImageDownload: Sendable {
    package let contentType: String?
    package let contentLength: Int?
    /// `Last-Modified`, in seconds since 1970, when ComfyUI sent one.
    package let lastModified: Int64?
    package let body: HTTPClientResponseBody
}

extension ComfyAPI {
    /// `POST /upload/image`: stores `content` as `filename` under `type` (`input`, `temp` or
    /// `output`) and `subfolder`. Without `overwrite`, ComfyUI keeps an identical file's name and
    /// renames a different one (`name (1).png`).
    package func uploadImage(
        _ content: UploadContent, filename: String, contentType: String = "application/octet-stream",
        subfolder: String = "", type: String = "input", overwrite: Bool = false
    ) async throws(GatewayError) -> UploadedImage {
        let writer = MultipartFormWriter()
        var head: [UInt8] = []
        head += writer.field(name: "type", value: type)
        if !subfolder.isEmpty { head += writer.field(name: "subfolder", value: subfolder) }
        if overwrite { head += writer.field(name: "overwrite", value: "true") }
        head += writer.fileHeader(name: "image", filename: filename, contentType: contentType)
        let tail = writer.fileEnd() + writer.closing()
        var request = HTTPClientRequest(method: .post, target: "/upload/image")
        request.headers.add(name: "Content-Type", value: writer.contentType)
        switch content {
        case .bytes(let bytes):
            request.body = .bytes(head + bytes + tail)
        case .stream(let length, let next):
            request.body = .stream(length: head.count + length + tail.count, next: Self.framed(head, next, tail))
        }
        let reply = try await exchange(request)
        switch reply.status {
        case 200:
            guard let json = reply.json, let name = json["name"]?.stringValue else {
                throw malformed(reply, .fileOperationError, "POST /upload/image", status: 500)
            }
            return UploadedImage(
                name: name, subfolder: json["subfolder"]?.stringValue ?? subfolder,
                type: json["type"]?.stringValue ?? type)
        case 400:
            throw unexpected(reply, .fileOperationError, "POST /upload/image", status: 400)
        case 413:
            throw unexpected(reply, .payloadTooLarge, "POST /upload/image")
        default:
            throw unexpected(reply, .fileOperationError, "POST /upload/image", status: 500)
        }
    }

    /// The chunks of a streamed part between its multipart head and tail.
    private static func framed(
        _ head: [UInt8], _ next: @escaping () async throws -> [UInt8]?, _ tail: [UInt8]
    ) -> () async throws -> [UInt8]? {
        let stage = StreamStage()
        return {
            switch stage.advance() {
            case .head: return head
            case .content:
                if let chunk = try await next() { return chunk }
                stage.contentEnded()
                return tail
            case .done: return nil
            }
        }
    }

    /// `GET /view`: a file ComfyUI has under `type` (`output`, `input` or `temp`) and
    /// `subfolder`, streamed. A missing file is `IMAGE_NOT_FOUND`; a name or subfolder ComfyUI
    /// refuses (`..`, an absolute path) is a 400 `FILE_OPERATION_ERROR`.
    package func view(filename: String, subfolder: String = "", type: String = "output") async throws(GatewayError)
        -> ImageDownload
    {
        let target = Self.target("/view", [("filename", filename), ("subfolder", subfolder), ("type", type)])
        let response = try await stream(HTTPClientRequest(target: target))
        guard response.status == 200 else {
            let body = (try? await response.collect(upTo: 4096)) ?? []
            let reply = UpstreamReply(status: response.status, body: body, json: nil)
            switch response.status {
            case 404:
                throw GatewayError(
                    .imageNotFound, message: "ComfyUI has no \(type) image '\(filename)' in '\(subfolder)'.",
                    details: ["filename": .string(filename), "subfolder": .string(subfolder), "type": .string(type)])
            case 400, 403:
                throw unexpected(reply, .fileOperationError, "GET /view", status: 400)
            default:
                throw unexpected(reply, .internalError, "GET /view")
            }
        }
        return ImageDownload(
            contentType: response.headers[first: "Content-Type"],
            contentLength: response.headers[first: "Content-Length"].flatMap { Int($0) },
            lastModified: response.headers[first: "Last-Modified"].flatMap(HTTPDateParser.epochSecond),
            body: response.body)
    }
}

/// Which piece of a streamed multipart body comes next.
private final class StreamStage {
    enum Stage { case head, content, done }
    private var stage = Stage.head
    private var contentDone = false

    func advance() -> Stage {
        switch stage {
        case .head:
            stage = .content
            return .head
        case .content:
            if contentDone {
                stage = .done
                return .done
            }
            return .content
        case .done:
            return .done
        }
    }

    func contentEnded() { contentDone = true }
}

extension ImageDownload {
    /// Hands every chunk of the file to `sink`, in order, to the end. Upstream failures and the
    /// sink's errors are thrown as they are.
    package func forEachChunk(_ sink: ([UInt8]) async throws -> Void) async throws {
        for try await chunk in body { try await sink(chunk) }
    }
}
