/// The `boundary` of a `multipart/form-data` content type.
package enum MultipartBoundary {
    /// The boundary of `contentType` when it is `multipart/form-data` with a valid boundary
    /// (1-70 characters, RFC 2046); nil otherwise.
    package static func formData(contentType: String) -> String? {
        let type = contentType.prefix { $0 != ";" }.trimmingSpaces.lowercased()
        guard type == "multipart/form-data" else { return nil }
        guard let boundary = MultipartPartHead.parameters(of: contentType)["boundary"],
            (1...70).contains(boundary.count),
            boundary.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
        else { return nil }
        return boundary
    }

    /// Whether `contentType` is `multipart/form-data` at all (with or without a usable boundary).
    package static func isFormData(contentType: String) -> Bool {
        contentType.prefix { $0 != ";" }.trimmingSpaces.lowercased() == "multipart/form-data"
    }
}
