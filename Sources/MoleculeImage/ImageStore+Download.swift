import AtomComfyHTTP
import AtomFiles
import AtomValidation
package import Models

extension ImageStore {
    /// A file for download. `output` files are served from the local cache when there, else
    /// fetched from ComfyUI into a temporary file that the client reads behind the download and
    /// that is renamed into the cache once the whole announced length has arrived. `input` and
    /// `temp` files, which ComfyUI may replace, always come from ComfyUI, through a spool that is
    /// deleted afterwards. ComfyUI's connection is read at its own pace, never the client's. A
    /// matching `If-None-Match` is answered `notModified`.
    package func download(_ location: FileLocation, ifNoneMatch: String?) async throws(GatewayError)
        -> ImageDelivery
    {
        try Self.check(location)
        let subfolder = try SafeName.checkSubfolder(location.subfolder)
        let cacheable =
            location.type == .output && !location.filename.hasPrefix(".") && !subfolder.contains { $0.hasPrefix(".") }
        let cacheControl = location.type == .output ? "public, max-age=3600" : "no-cache"
        let disposition = Self.contentDisposition(location.filename)
        if cacheable, let cached = await outputs.entry(subfolder, location.filename) {
            let size = cached.size
            let etag = Self.etag(location, size: size, modified: cached.modified)
            if Self.matches(ifNoneMatch, etag) { return .notModified(etag: etag, cacheControl: cacheControl) }
            let outputs = self.outputs
            return .content(
                ImageContent(
                    contentType: MediaType.forFilename(location.filename), length: size, etag: etag,
                    cacheControl: cacheControl, contentDisposition: disposition
                ) { sink in
                    let reader = try await outputs.openForReading(subfolder, location.filename)
                    do {
                        while let chunk = try await reader.next() { try await sink(chunk) }
                    } catch {
                        await reader.close()
                        throw error
                    }
                })
        }
        let download = try await api.view(
            filename: location.filename, subfolder: location.subfolder, type: location.type.rawValue)
        let etag = Self.etag(location, size: download.contentLength, modified: download.lastModified)
        if Self.matches(ifNoneMatch, etag) { return .notModified(etag: etag, cacheControl: cacheControl) }
        let outputs = self.outputs
        let length = download.contentLength
        return .content(
            ImageContent(
                contentType: download.contentType ?? MediaType.forFilename(location.filename), length: length,
                etag: etag, cacheControl: cacheControl, contentDisposition: disposition
            ) { sink in
                // Through a spool: ComfyUI's connection is read at its pace and freed as soon as
                // the file is in, however slowly the client reads.
                guard
                    let spool = try? await FileSpool.create(
                        in: outputs, subfolder: cacheable ? subfolder : [], for: location.filename)
                else {
                    // No disk for a spool: relay straight through, at the client's pace.
                    try await Self.relay(download, to: sink)
                    return
                }
                let keep = cacheable && length != nil
                let filling = spool.fill(from: { append in try await download.forEachChunk(append) }) { spool, error in
                    if keep, error == nil, spool.size == length {
                        do {
                            try await spool.file.commit(
                                as: location.filename, in: subfolder, modified: download.lastModified)
                        } catch {
                            await spool.file.discard()
                        }
                    } else {
                        await spool.file.discard()
                    }
                }
                do {
                    while let chunk = try await spool.next() { try await sink(chunk) }
                    await spool.closeReader()
                } catch {
                    await spool.closeReader()
                    // A client that left stops a download nobody keeps; one being cached finishes.
                    if !keep { filling.cancel() }
                    throw error
                }
            })
    }

    /// Streams the upstream body straight to the client (when no spool can be made).
    private static func relay(_ download: ImageDownload, to sink: ByteSink) async throws {
        try await download.forEachChunk { chunk in try await sink(chunk) }
    }

    /// A strong entity tag from what names a version of a file: its location, size and
    /// modification time (ComfyUI's `Last-Modified`, which the cached copy keeps as its own
    /// mtime, so both give the same tag), as nginx derives its tags. FNV-1a, 64 bits, hex.
    static func etag(_ location: FileLocation, size: Int?, modified: Int64?) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let key =
            "\(location.type.rawValue)\u{0}\(location.subfolder)\u{0}\(location.filename)\u{0}\(size ?? -1)\u{0}\(modified ?? -1)"
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return "\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\""
    }

    /// Whether an `If-None-Match` value matches `etag` (`*`, or a list; weak comparison as RFC 9110
    /// asks for this header).
    static func matches(_ ifNoneMatch: String?, _ etag: String) -> Bool {
        guard let ifNoneMatch else { return false }
        for candidate in ifNoneMatch.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: " \t")
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == etag { return true }
        }
        return false
    }

    /// `inline; filename="..."`, plus RFC 8187's `filename*` when the name is not plain ASCII.
    static func contentDisposition(_ filename: String) -> String {
        let ascii = String(
            filename.unicodeScalars.map { scalar in
                scalar.isASCII && scalar.value >= 0x20 && scalar != "\"" && scalar != "\\" ? Character(scalar) : "_"
            })
        var value = "inline; filename=\"\(ascii)\""
        if ascii != filename { value += "; filename*=UTF-8''" + QueryEncoding.encode(filename) }
        return value
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var slice = self
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
