package import Models
package import Reactor

/// One local directory the gateway keeps files in (`INPUT_DIR` or `OUTPUT_DIR`), with
/// asynchronous file I/O through libuv's thread pool so the loop never blocks on disk.
///
/// Names and subfolders must have passed `SafeName` (AtomValidation) first: this type only
/// joins components under its root. Disk failures become a 500 `FILE_OPERATION_ERROR`.
package struct LocalDirectory: Sendable {
    package let root: String
    package let loop: EventLoop

    package init(root: String, loop: EventLoop) {
        self.root = root
        self.loop = loop
    }

    /// The path of `filename` in `subfolder` (components already checked).
    package func path(_ subfolder: [String], _ filename: String) -> String {
        ([root] + subfolder + [filename]).joined(separator: "/")
    }

    /// The size of the regular file, nil when there is none.
    package func size(_ subfolder: [String], _ filename: String) async throws(GatewayError) -> Int? {
        let path = path(subfolder, filename)
        return try await Self.disk("stat", path) { try await FileStream.size(of: path, loop: loop) }
    }

    /// Opens a file for streaming reads.
    package func openForReading(_ subfolder: [String], _ filename: String) async throws(GatewayError) -> FileReader {
        let path = path(subfolder, filename)
        let stream = try await Self.disk("open", path) { try await FileStream.open(path, mode: .read, loop: loop) }
        return FileReader(stream: stream, path: path)
    }

    /// Creates the directories of `subfolder` under the root (and the root itself).
    package func makeDirectories(_ subfolder: [String]) async throws(GatewayError) {
        let rootComponents = root.split(separator: "/").map(String.init)
        var path = root.hasPrefix("/") ? "" : "."
        for component in rootComponents + subfolder {
            path += "/" + component
            let current = path
            try await Self.disk("mkdir", current) { try await FileStream.makeDirectory(current, loop: loop) }
        }
    }

    /// A new, empty temporary file in `subfolder`, invisible to lookups until committed (its name
    /// starts with a dot and ends in `.part`).
    package func temporaryFile(in subfolder: [String], for filename: String) async throws(GatewayError)
        -> TemporaryFile
    {
        try await makeDirectories(subfolder)
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let path = path(subfolder, ".\(filename.prefix(64)).\(token).part")
        let stream = try await Self.disk("create", path) {
            try await FileStream.open(path, mode: .createNew, loop: loop)
        }
        return TemporaryFile(path: path, stream: stream, directory: self)
    }

    /// Runs one disk operation, turning its failure into the API's error.
    static func disk<T>(_ operation: String, _ path: String, _ body: () async throws -> T) async throws(GatewayError)
        -> T
    {
        do {
            return try await body()
        } catch {
            throw GatewayError(
                .fileOperationError, status: 500, message: "A file operation failed: \(operation) '\(path)': \(error)",
                details: ["operation": .string(operation), "path": .string(path)])
        }
    }
}
