/// Where a streamed file body writes its chunks (each call may wait while the client is slow).
package typealias ByteSink = ([UInt8]) async throws -> Void

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
