package import Models
package import MoleculeImage

/// The image API of the service: upload, download, URLs.
package struct ImageCoordinator: Sendable {
    let store: ImageStore

    package init(store: ImageStore) {
        self.store = store
    }

    /// Streams a multipart upload in; `body`'s own errors (a body over the limit) pass unchanged.
    package func upload(contentType: String?, base: String, body: () async throws -> [UInt8]?) async throws
        -> UploadResult
    {
        try await store.upload(contentType: contentType, base: base, body: body)
    }

    package func download(_ location: FileLocation, ifNoneMatch: String?) async throws(GatewayError) -> ImageDelivery {
        try await store.download(location, ifNoneMatch: ifNoneMatch)
    }

    package func urls(_ location: FileLocation, base: String) throws(GatewayError) -> ImageURLs {
        try store.urls(location, base: base)
    }
}
