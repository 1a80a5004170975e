package import Models
import Reactor

/// A file read from start to end in chunks, for streaming it to a socket or upstream.
package final class FileReader: @unchecked Sendable {
    private let stream: FileStream
    private let path: String
    private var isClosed = false

    init(stream: FileStream, path: String) {
        self.stream = stream
        self.path = path
    }

    /// The next chunk (at most 64 KiB), nil at the end (the file is then closed).
    package func next() async throws(GatewayError) -> [UInt8]? {
        guard !isClosed else { return nil }
        let chunk = try await LocalDirectory.disk("read", path) { try await stream.read(maxBytes: 64 * 1024) }
        if chunk.isEmpty {
            await close()
            return nil
        }
        return chunk
    }

    /// Closes the file early (reading to the end closes it too).
    package func close() async {
        guard !isClosed else { return }
        isClosed = true
        try? await stream.close()
    }
}
