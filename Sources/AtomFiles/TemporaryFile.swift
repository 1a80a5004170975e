package import Models
import Reactor

/// A file being written under a temporary name, then either renamed to its final name in one
/// atomic step (`commit`) or deleted (`discard`): readers never see a partial file.
package final class TemporaryFile {
    package let path: String
    /// The path relative to the directory, for errors.
    let name: String
    private let stream: FileStream
    private let directory: LocalDirectory
    private var isOpen = true
    /// Bytes written so far.
    package private(set) var size = 0

    init(path: String, name: String, stream: FileStream, directory: LocalDirectory) {
        self.path = path
        self.name = name
        self.stream = stream
        self.directory = directory
    }

    /// Appends bytes.
    package func write(_ bytes: [UInt8]) async throws(GatewayError) {
        try await LocalDirectory.disk("write", name) { try await stream.write(bytes) }
        size += bytes.count
    }

    /// Reads the written file back from the start, for forwarding it.
    package func reopenForReading() async throws(GatewayError) -> FileReader {
        try await close()
        let stream = try await LocalDirectory.disk("open", name) {
            try await FileStream.open(path, mode: .read, loop: directory.loop)
        }
        return FileReader(stream: stream, name: name)
    }

    /// Closes the file and renames it to `filename` in `subfolder`, replacing any file there
    /// (a symbolic link there is replaced, not followed). With `modified`, the file's
    /// modification time is set first (seconds since 1970: the upstream's `Last-Modified`).
    package func commit(as filename: String, in subfolder: [String], modified: Int64? = nil) async throws(GatewayError)
    {
        if let modified, isOpen {
            try await LocalDirectory.disk("futime", name) { try await stream.setModificationTime(modified) }
        }
        try await close()
        try await directory.makeDirectories(subfolder)
        let destination = directory.path(subfolder, filename)
        try await LocalDirectory.disk("rename", directory.relative(subfolder, filename)) {
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
        try await LocalDirectory.disk("close", name) { try await stream.close() }
    }
}
