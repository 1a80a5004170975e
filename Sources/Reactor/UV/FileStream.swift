import CLibUV

/// A file opened through `uv_fs_*`: reads and writes run on libuv's thread pool and complete on
/// the loop, so disk work never blocks the loop thread. Reads and writes are sequential (each
/// continues where the last ended), which is what streaming an upload to disk or an image to a
/// socket needs.
package final class FileStream {
    /// How a file is opened.
    package enum Mode: Sendable {
        /// Read only; the file must exist and not be a symbolic link.
        case read
        /// Write only; created (mode 0644) or truncated.
        case truncateOrCreate
        /// Write only; fails with `EEXIST` if the file (or a symbolic link) exists.
        case createNew
    }

    private let loop: EventLoop
    private let descriptor: Int32
    private var offset: Int64 = 0
    private var isClosed = false

    private init(loop: EventLoop, descriptor: Int32) {
        self.loop = loop
        self.descriptor = descriptor
    }

    /// Opens `path` on `loop`.
    package static func open(_ path: String, mode: Mode, loop: EventLoop) async throws -> FileStream {
        let flags: Int32
        switch mode {
        case .read: flags = O_RDONLY | O_NOFOLLOW
        case .truncateOrCreate: flags = O_WRONLY | O_CREAT | O_TRUNC
        case .createNew: flags = O_WRONLY | O_CREAT | O_EXCL
        }
        let descriptor = try await FileRequest.run(loop: loop, operation: "open \(path)") { request, callback in
            uv_fs_open(loop.loop, request, path, flags, 0o644, callback)
        }
        return FileStream(loop: loop, descriptor: Int32(descriptor))
    }

    /// Reads up to `maxBytes` from the current position; an empty array means end of file.
    package func read(maxBytes: Int = 64 * 1024) async throws -> [UInt8] {
        precondition(!isClosed, "read from a closed FileStream")
        nonisolated(unsafe) let storage = UnsafeMutableRawPointer.allocate(byteCount: maxBytes, alignment: 16)
        defer { storage.deallocate() }
        let position = offset
        let count = try await FileRequest.run(loop: loop, operation: "read") { [loop, descriptor] request, callback in
            var buffer = uv_buf_init(storage.assumingMemoryBound(to: CChar.self), UInt32(maxBytes))
            return uv_fs_read(loop.loop, request, descriptor, &buffer, 1, position, callback)
        }
        offset += Int64(count)
        return [UInt8](UnsafeRawBufferPointer(start: storage, count: count))
    }

    /// Writes all of `bytes` at the current position.
    package func write(_ bytes: [UInt8]) async throws {
        precondition(!isClosed, "write to a closed FileStream")
        var written = 0
        while written < bytes.count {
            let position = offset
            let chunk = Array(bytes[written...])
            let count = try await FileRequest.run(loop: loop, operation: "write") {
                [loop, descriptor] request, callback in
                chunk.withUnsafeBytes { raw in
                    var buffer = uv_buf_init(
                        UnsafeMutableRawPointer(mutating: raw.baseAddress!).assumingMemoryBound(to: CChar.self),
                        UInt32(raw.count))
                    return uv_fs_write(loop.loop, request, descriptor, &buffer, 1, position, callback)
                }
            }
            written += count
            offset += Int64(count)
        }
    }

    /// Closes the file descriptor.
    package func close() async throws {
        guard !isClosed else { return }
        isClosed = true
        _ = try await FileRequest.run(loop: loop, operation: "close") { [loop, descriptor] request, callback in
            uv_fs_close(loop.loop, request, descriptor, callback)
        }
    }

    /// The size of the regular file at `path`, or nil when there is none (missing, a directory,
    /// a symbolic link or another kind of file).
    package static func size(of path: String, loop: EventLoop) async throws -> Int? {
        guard let status = try await status(of: path, loop: loop), status.kind == .regular else { return nil }
        return status.size
    }

    /// What is at `path` itself (a symbolic link is reported as one, not followed), or nil when
    /// nothing is (`ENOENT`, or a path component that is not a directory).
    package static func status(of path: String, loop: EventLoop) async throws -> FileStatus? {
        do {
            return try await FileRequest.status(loop: loop, operation: "lstat \(path)") { request, callback in
                uv_fs_lstat(loop.loop, request, path, callback)
            }
        } catch let error as UVError where error.code == -ENOENT || error.code == -ENOTDIR {
            return nil
        }
    }

    /// Sets the file's modification (and access) time, in whole seconds since 1970.
    package func setModificationTime(_ seconds: Int64) async throws {
        precondition(!isClosed, "futime on a closed FileStream")
        _ = try await FileRequest.run(loop: loop, operation: "futime") { [loop, descriptor] request, callback in
            uv_fs_futime(loop.loop, request, descriptor, Double(seconds), Double(seconds), callback)
        }
    }
}

extension FileStream {
    /// Renames `source` to `destination`, replacing it atomically when it exists (same file
    /// system): how a finished temporary file becomes visible under its final name.
    package static func rename(_ source: String, to destination: String, loop: EventLoop) async throws {
        _ = try await FileRequest.run(loop: loop, operation: "rename \(source)") { request, callback in
            uv_fs_rename(loop.loop, request, source, destination, callback)
        }
    }

    /// Creates one directory (mode 0755); an existing directory is not an error.
    package static func makeDirectory(_ path: String, loop: EventLoop) async throws {
        do {
            _ = try await FileRequest.run(loop: loop, operation: "mkdir \(path)") { request, callback in
                uv_fs_mkdir(loop.loop, request, path, 0o755, callback)
            }
        } catch let error as UVError where error.code == -EEXIST {
            return
        }
    }

    /// Deletes a file; a missing file is not an error.
    package static func remove(_ path: String, loop: EventLoop) async throws {
        do {
            _ = try await FileRequest.run(loop: loop, operation: "unlink \(path)") { request, callback in
                uv_fs_unlink(loop.loop, request, path, callback)
            }
        } catch let error as UVError where error.code == -ENOENT {
            return
        }
    }
}

/// What `FileStream.status(of:loop:)` found at a path.
package struct FileStatus: Sendable, Equatable {
    /// The kind of file.
    package enum Kind: Sendable, Equatable {
        case regular, directory, symbolicLink, other
    }

    package let kind: Kind
    package let size: Int
    /// Modification time, whole seconds since 1970.
    package let modified: Int64
}

/// One `uv_fs_t` request bridged to an async call. The buffer a read or write uses stays alive
/// in the awaiting caller until this returns, which is after libuv's callback has run.
private final class FileRequest {
    let request = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
    let operation: String
    var continuation: CheckedContinuation<(Int, FileStatus), any Error>?

    init(operation: String) {
        self.operation = operation
    }

    deinit { request.deallocate() }

    /// Runs a request; returns its result (a descriptor or a byte count).
    static func run(
        loop: EventLoop, operation: String,
        _ start: @escaping @Sendable (UnsafeMutablePointer<uv_fs_t>, uv_fs_cb) -> Int32
    ) async throws -> Int {
        try await perform(loop: loop, operation: operation, start).0
    }

    /// Runs a stat-like request; returns what it found.
    static func status(
        loop: EventLoop, operation: String,
        _ start: @escaping @Sendable (UnsafeMutablePointer<uv_fs_t>, uv_fs_cb) -> Int32
    ) async throws -> FileStatus {
        try await perform(loop: loop, operation: operation, start).1
    }

    private static func perform(
        loop: EventLoop, operation: String,
        _ start: @escaping @Sendable (UnsafeMutablePointer<uv_fs_t>, uv_fs_cb) -> Int32
    ) async throws -> (Int, FileStatus) {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Int, FileStatus), any Error>) in
            loop.execute {
                let pending = FileRequest(operation: operation)
                pending.continuation = continuation
                pending.request.pointee.data = Unmanaged.passRetained(pending).toOpaque()
                let status = start(pending.request) { request in
                    let pending = Unmanaged<FileRequest>.fromOpaque(request!.pointee.data!).takeRetainedValue()
                    pending.complete()
                }
                if status < 0 {
                    let pending = Unmanaged<FileRequest>.fromOpaque(pending.request.pointee.data!).takeRetainedValue()
                    uv_fs_req_cleanup(pending.request)
                    continuation.resume(throwing: UVError(code: status, operation: operation))
                }
            }
        }
    }

    private func complete() {
        let result = request.pointee.result
        let stat = request.pointee.statbuf
        let kind: FileStatus.Kind =
            switch stat.st_mode & UInt64(S_IFMT) {
            case UInt64(S_IFREG): .regular
            case UInt64(S_IFDIR): .directory
            case UInt64(S_IFLNK): .symbolicLink
            default: .other
            }
        // Only stat requests fill `statbuf`; for the others it holds whatever was there.
        let status = FileStatus(
            kind: kind, size: Int(truncatingIfNeeded: stat.st_size),
            modified: Int64(truncatingIfNeeded: stat.st_mtim.tv_sec))
        uv_fs_req_cleanup(request)
        if result < 0 {
            continuation?.resume(throwing: UVError(code: Int32(result), operation: operation))
        } else {
            continuation?.resume(returning: (result, status))
        }
    }
}
