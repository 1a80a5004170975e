package import Models
import Reactor

/// A file being written under a temporary name, then either renamed to its final name in one
/// atomic step (`commit`) or deleted (`discard`): readers never see a partial file.
package final class TemporaryFile: @unchecked Sendable {
    package let path: String
    private let stream: FileStream
    private let directory: LocalDirectory
    private var isOpen = true
    /// Bytes written so far.
    package private(set) var size = 0

    init(path: String, stream: FileStream, directory: LocalDirectory) {
        self.path = path
        self.stream = stream
        self.directory = directory
    }

    /// Appends bytes.
    package func write(_ bytes: [UInt8]) async throws(GatewayError) {
        try await LocalDirectory.disk("write", path) { try await stream.write(bytes) }
        size += bytes.count
    }

    /// Reads the written file back from the start, for forwarding it.
    package func reopenForReading() async throws(GatewayError) -> FileReader {
        try await close()
        let stream = try await LocalDirectory.disk("open", path) {
            try await FileStream.open(path, mode: .read, loop: directory.loop)
        }
        return FileReader(stream: stream, path: path)
    }

    /// Closes the file and renames it to `filename` in `subfolder`, replacing any file there.
    package func commit(as filename: String, in subfolder: [String]) async throws(GatewayError) {
        try await close()
        try await directory.makeDirectories(subfolder)
        let destination = directory.path(subfolder, filename)
        try await LocalDirectory.disk("rename", destination) {
            try await FileStream.rename(path, to: destination, loop: directory.loop)
        }
    }

    /// Closes and deletes the file. It does not throw: if deleting fails, what is left is a
    /// hidden `.part` file that no lookup serves.
    package func discard() async {
        try? await close()
        try? await FileStream.remove(path, loop: directory.loop)
    }

    private func close() async throws(GatewayError) {
        guard isOpen else { return }
        isOpen = false
        try await LocalDirectory.disk("close", path) { try await stream.close() }
    }
}
