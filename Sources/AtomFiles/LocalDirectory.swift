// AtomFiles (L4): the gateway's local directories over libuv's file system calls: lookups that
// never follow symbolic links, streaming reads, temporary files renamed into place, multipart
// uploads spooled to disk. Imports Reactor, Codecs and Models; never another atom.

import Codecs
package import Models
package import Reactor

/// One local directory the gateway keeps files in (`INPUT_DIR` or `OUTPUT_DIR`), with
/// asynchronous file I/O through libuv's thread pool so the loop never blocks on disk.
///
/// Names and subfolders must have passed `SafeName` (AtomValidation) first: this type joins
/// components under its root and refuses to go through symbolic links below it (a link someone
/// left in the directory must not lead reads or writes outside it; the root itself may be one).
/// Disk failures become a 500 `FILE_OPERATION_ERROR` naming the file relative to the root.
package struct LocalDirectory: Sendable {
    package let root: String
    package let loop: EventLoop

    package init(root: String, loop: EventLoop) {
        self.root = root
        self.loop = loop
    }

    /// What a regular file in the directory is: its size and modification time.
    package struct Entry: Sendable, Equatable {
        package let size: Int
        /// Whole seconds since 1970.
        package let modified: Int64
    }

    /// The path of `filename` in `subfolder` (components already checked).
    package func path(_ subfolder: [String], _ filename: String) -> String {
        ([root] + subfolder + [filename]).joined(separator: "/")
    }

    /// The regular file `filename` in `subfolder`, nil when there is none, when a component on
    /// the way is a symbolic link or not a directory, or when it cannot be looked at.
    package func entry(_ subfolder: [String], _ filename: String) async -> Entry? {
        var path = root
        for component in subfolder {
            path += "/" + component
            guard let status = try? await FileStream.status(of: path, loop: loop), status.kind == .directory else {
                return nil
            }
        }
        guard let status = try? await FileStream.status(of: path + "/" + filename, loop: loop),
            status.kind == .regular
        else { return nil }
        return Entry(size: status.size, modified: status.modified)
    }

    /// Opens a file for streaming reads (a symbolic link is refused).
    package func openForReading(_ subfolder: [String], _ filename: String) async throws(GatewayError) -> FileReader {
        let path = path(subfolder, filename)
        let name = relative(subfolder, filename)
        let stream = try await Self.disk("open", name) { try await FileStream.open(path, mode: .read, loop: loop) }
        return FileReader(stream: stream, name: name)
    }

    /// Creates the root (with its parents) and the directories of `subfolder` under it; a
    /// component of `subfolder` that exists as anything but a directory is an error.
    package func makeDirectories(_ subfolder: [String]) async throws(GatewayError) {
        var path = root.hasPrefix("/") ? "" : "."
        for component in root.split(separator: "/") {
            path += "/" + component
            let current = path
            try await Self.disk("mkdir", root) { try await FileStream.makeDirectory(current, loop: loop) }
        }
        path = root
        for (index, component) in subfolder.enumerated() {
            path += "/" + component
            let current = path
            let name = subfolder[...index].joined(separator: "/")
            try await Self.disk("mkdir", name) { try await FileStream.makeDirectory(current, loop: loop) }
            let status = try await Self.disk("lstat", name) { try await FileStream.status(of: current, loop: loop) }
            guard status?.kind == .directory else {
                throw GatewayError(
                    .fileOperationError, status: 500,
                    message: "'\(name)' in the gateway's directory is not a plain directory.",
                    details: ["operation": "mkdir", "path": .string(name)])
            }
        }
    }

    /// A new, empty temporary file in `subfolder`, invisible to lookups until committed (its name
    /// starts with a dot and ends in `.part`).
    package func temporaryFile(in subfolder: [String], for filename: String) async throws(GatewayError)
        -> TemporaryFile
    {
        try await makeDirectories(subfolder)
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let hidden = ".\(filename.prefix(64)).\(token).part"
        let path = path(subfolder, hidden)
        let stream = try await Self.disk("create", relative(subfolder, hidden)) {
            try await FileStream.open(path, mode: .createNew, loop: loop)
        }
        return TemporaryFile(path: path, name: relative(subfolder, hidden), stream: stream, directory: self)
    }

    /// `subfolder/filename`, as errors name a file.
    func relative(_ subfolder: [String], _ filename: String) -> String {
        (subfolder + [filename]).joined(separator: "/")
    }

    /// Runs one disk operation, turning its failure into the API's error (naming the file
    /// relative to the root: the server's own paths stay out of answers).
    static func disk<T>(_ operation: String, _ name: String, _ body: () async throws -> T) async throws(GatewayError)
        -> T
    {
        do {
            return try await body()
        } catch {
            let reason = (error as? UVError)?.name ?? "unexpected error"
            throw GatewayError(
                .fileOperationError, status: 500,
                message: "A file operation failed: \(operation) '\(name)' (\(reason)).",
                details: ["operation": .string(operation), "path": .string(name), "reason": .string(reason)])
        }
    }
}
