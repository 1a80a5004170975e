import Codecs
import Coordinators
import Models
import Routing

/// `/api/v1/images/...`: upload, download, URLs.
enum ImageRoutes {
    static func operations(_ coordinator: ImageCoordinator, base: PublicBase, maxUploadBytes: Int) -> [APIOperation] {
        let location = [
            APIOperation.query(
                "filename", "The file name, as ComfyUI reports it.", required: true,
                schema: ["type": "string", "minLength": 1, "maxLength": 255, "pattern": .string(Self.filenamePattern)]),
            APIOperation.query(
                "subfolder", "The subfolder (empty for none): relative, `/`-separated, no `.` or `..` components.",
                schema: ["type": "string", "pattern": .string(Self.subfolderPattern)]),
            APIOperation.query(
                "type", "ComfyUI's folder.",
                schema: ["type": "string", "enum": ["output", "input", "temp"], "default": "output"]),
        ]
        let unsafe = APIOperation.Reply.error(400, "FILE_OPERATION_ERROR: unsafe file name or subfolder.")
        let badQuery = APIOperation.Reply.error(
            422, "INVALID_REQUEST: missing filename or bad type (`details.fields`).")
        return [
            APIOperation(
                method: .post, path: "/api/v1/images/upload", operationID: "uploadImage", tag: "images",
                summary: "Upload an input image",
                description: """
                    Streams the form in: the file must be a PNG, JPEG, WebP or GIF (by its bytes), is stored \
                    under INPUT_DIR and forwarded to ComfyUI. `name` in the answer is ComfyUI's, which differs \
                    from the sent name when a different file had it and `overwrite` is false.
                    """,
                requestBody: [
                    "required": true,
                    "content": ["multipart/form-data": ["schema": OpenAPISchemas.reference("UploadForm")]],
                ],
                replies: [
                    .json(200, "Stored.", schema: "UploadResult"),
                    .error(
                        400, "FILE_OPERATION_ERROR (unsafe name or subfolder) or INVALID_REQUEST (broken multipart)."),
                    .error(413, "PAYLOAD_TOO_LARGE: the body is over MAX_UPLOAD_BYTES."),
                    .error(
                        415, "UNSUPPORTED_MEDIA_TYPE: not multipart/form-data, or the file is not an accepted image."),
                    .error(422, "INVALID_REQUEST: no file part, or a bad field (`details.fields`)."),
                ] + APIOperation.upstreamErrors,
                maxBodyBytes: maxUploadBytes
            ) { request, _ in
                let body = request.body
                return await .api(
                    try await coordinator.upload(
                        contentType: request.header("Content-Type"), base: base.base(for: request),
                        body: { try await body.next() }))
            },
            APIOperation(
                method: .get, path: "/api/v1/images/download", operationID: "downloadImage", tag: "images",
                summary: "Download a file",
                description: """
                    Served from OUTPUT_DIR when cached there, else streamed from ComfyUI while the cache is \
                    written. Supports `If-None-Match` (304) and HEAD.
                    """,
                parameters: location + [
                    ["name": "If-None-Match", "in": "header", "required": false, "schema": ["type": "string"]]
                ],
                replies: [
                    APIOperation.Reply(
                        status: 200, description: "The file.",
                        content: [
                            "application/octet-stream": ["schema": ["type": "string", "format": "binary"]],
                            "image/*": ["schema": ["type": "string", "format": "binary"]],
                        ],
                        headers: [
                            "ETag": ["schema": ["type": "string"]], "Cache-Control": ["schema": ["type": "string"]],
                            "Content-Disposition": ["schema": ["type": "string"]],
                        ]),
                    APIOperation.Reply(
                        status: 304, description: "Not modified (the ETag matched).", content: nil, headers: nil),
                    unsafe,
                    .error(404, "IMAGE_NOT_FOUND."),
                    badQuery,
                ] + APIOperation.upstreamErrors
            ) { request, _ in
                let location = try RequestDecoding.fileLocation(request)
                return try await Self.response(
                    try await coordinator.download(location, ifNoneMatch: request.header("If-None-Match")))
            },
            APIOperation(
                method: .get, path: "/api/v1/images/url", operationID: "getImageURL", tag: "images",
                summary: "The gateway and ComfyUI URLs of a file", parameters: location,
                replies: [
                    .json(200, "The URLs.", schema: "ImageURLs"), unsafe, badQuery, .error(500, "INTERNAL_ERROR."),
                ]
            ) { request, _ in
                let location = try RequestDecoding.fileLocation(request)
                return await .api(try coordinator.urls(location, base: base.base(for: request)))
            },
        ]
    }

    /// What `SafeName` accepts as a file name, as an ECMA-262 pattern for the OpenAPI document:
    /// not `.` or `..`, no `/`, `\`, NUL or control characters, no ComfyUI folder annotation.
    static let filenamePattern =
        #"^(?!\.{1,2}$)(?!.* \[(input|output|temp)\]$)[^/\\\u0000-\u001f\u007f]+$"#

    /// What `SafeName` accepts as a subfolder: empty, or relative components without `.`/`..`.
    static let subfolderPattern =
        #"^$|^(?!/)(?!(.*/)?\.{1,2}(/|$))(?!.*//)(?!.*/$)[^\\\u0000-\u001f\u007f]+$"#

    static func response(_ delivery: ImageDelivery) async throws -> Response {
        switch delivery {
        case .notModified(let etag, let cacheControl):
            var response = Response(status: 304)
            response.setHeader("ETag", etag)
            response.setHeader("Cache-Control", cacheControl)
            return response
        case .content(let content):
            let body = content.body
            var response = Response(
                status: 200,
                body: .stream(length: content.length) { writer in
                    try await body { bytes in try await writer.write(bytes) }
                })
            response.setHeader("Content-Type", content.contentType)
            response.setHeader("ETag", content.etag)
            response.setHeader("Cache-Control", content.cacheControl)
            response.setHeader("Content-Disposition", content.contentDisposition)
            // Files come from ComfyUI's folders, which may hold anything (an SVG, an HTML file a
            // custom node wrote): never let a browser sniff or run them on the gateway's origin.
            response.setHeader("X-Content-Type-Options", "nosniff")
            response.setHeader("Content-Security-Policy", "sandbox")
            return response
        }
    }
}
