import CLibUV

/// A file opened through `uv_fs_*`: reads and writes run on libuv's thread pool and complete on
/// the loop, so disk work never blocks the loop thread. Reads and writes are sequential (each
/// continues where the last ended), which is what streaming an upload to disk or an image to a
/// socket needs.
package final class FileStream: @unchecked Sendable {
    /// How a file is opened.
    package enum Mode: Sendable {
        /// Read only; the file must exist.
        case read
        /// Write only; created (mode 0644) or truncated.
        case truncateOrCreate
        /// Write only; fails with `EEXIST` if the file exists.
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
        case .read: flags = O_RDONLY
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

    /// The size of the regular file at `path`, or nil when there is none (missing, or a
    /// directory or other kind of file).
    package static func size(of path: String, loop: EventLoop) async throws -> Int? {
        do {
            let size = try await FileRequest.run(loop: loop, operation: "stat \(path)", resultIsSize: true) {
                request, callback in
                uv_fs_stat(loop.loop, request, path, callback)
            }
            return size >= 0 ? size : nil
        } catch let error as UVError where error.code == -ENOENT || error.code == -ENOTDIR {
            return nil
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

/// One `uv_fs_t` request bridged to an async call. The buffer a read or write uses stays alive
/// in the awaiting caller until this returns, which is after libuv's callback has run.
private final class FileRequest {
    let request = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
    let operation: String
    let resultIsSize: Bool
    var continuation: CheckedContinuation<Int, any Error>?

    init(operation: String, resultIsSize: Bool) {
        self.operation = operation
        self.resultIsSize = resultIsSize
    }

    deinit { request.deallocate() }

    static func run(
        loop: EventLoop, operation: String, resultIsSize: Bool = false,
        _ start: @escaping @Sendable (UnsafeMutablePointer<uv_fs_t>, uv_fs_cb) -> Int32
    ) async throws -> Int {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            loop.execute {
                let pending = FileRequest(operation: operation, resultIsSize: resultIsSize)
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
        let isRegular = request.pointee.statbuf.st_mode & UInt64(S_IFMT) == UInt64(S_IFREG)
        let size = isRegular ? Int(request.pointee.statbuf.st_size) : -1
        uv_fs_req_cleanup(request)
        if result < 0 {
            continuation?.resume(throwing: UVError(code: Int32(result), operation: operation))
        } else {
            continuation?.resume(returning: resultIsSize ? size : result)
        }
    }
}
