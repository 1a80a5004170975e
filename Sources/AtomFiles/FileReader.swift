package import Models
import Reactor

/// A file read from start to end in chunks, for streaming it to a socket or upstream.
package final class FileReader {
    private let stream: FileStream
    private let name: String
    private var isClosed = false

    init(stream: FileStream, name: String) {
        self.stream = stream
        self.name = name
    }

    /// The next chunk (at most 64 KiB), nil at the end (the file is then closed).
    package func next() async throws(GatewayError) -> [UInt8]? {
        guard !isClosed else { return nil }
        let chunk = try await LocalDirectory.disk("read", name) { try await stream.read(maxBytes: 64 * 1024) }
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
