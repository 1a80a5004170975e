import Codecs
import DequeModule
package import Models
import Reactor

/// A temporary file filled at the pace of its source and read, at the same time, at the pace of
/// its reader: the buffer between a fast upstream and a slow client.
///
/// Relaying a download chunk by chunk ties the upstream connection to the client: a client that
/// never reads holds a pooled connection to ComfyUI for as long as it likes, and a handful of them
/// starve every other transfer. Through a spool the upstream is read as fast as it sends (its
/// connection is back in the pool as soon as the body is in), while the client reads the file
/// behind it. The reader never passes the writer: it waits for bytes that are not written yet.
/// If the file cannot be written (a full disk), the download goes on without it: the rest of the
/// source is handed to the reader in memory, one chunk at a time, at the reader's pace (as a
/// plain relay would), and nothing is kept. Loop-bound: use it from tasks on the directory's loop.
package final class FileSpool {
    /// The file being filled; `commit` it to keep it, or let `finish` discard it.
    package let file: TemporaryFile
    private let loop: EventLoop
    private var reader: FileStream?
    private var readOffset = 0
    private var written = 0
    private var ended = false
    private var failure: GatewayError?
    private var waiter: CheckedContinuation<Void, Never>?
    /// Set when writing the file failed (a full disk): the rest is handed over in memory, one
    /// chunk at a time, at the reader's pace, so the download goes on without its spool.
    private var fileFailed = false
    private var handOver = Deque<[UInt8]>()
    private var fillerWaiter: CheckedContinuation<Void, Never>?
    private var readerClosed = false

    private init(file: TemporaryFile, loop: EventLoop) {
        self.file = file
        self.loop = loop
    }

    /// A new spool under `subfolder` of `directory` (a hidden `.part` file no lookup serves).
    package static func create(
        in directory: LocalDirectory, subfolder: [String], for filename: String
    ) async throws(GatewayError) -> FileSpool {
        let file = try await directory.temporaryFile(in: subfolder, for: filename)
        let spool = FileSpool(file: file, loop: directory.loop)
        do {
            spool.reader = try await FileStream.open(file.path, mode: .read, loop: directory.loop)
        } catch {
            await file.discard()
            throw GatewayError(
                .fileOperationError, status: 500, message: "The download could not be spooled: \(error).",
                details: ["operation": "open", "path": .string(file.name)])
        }
        return spool
    }

    /// Bytes written so far.
    package var size: Int { written }

    /// Fills the spool from `source` (which hands its chunks to the closure it is given) on a
    /// task of its own, at the source's pace; then calls `completed` with the outcome (nil when
    /// the source ended normally), still on that task, before readers see the end.
    package func fill(
        from source: @escaping @Sendable (_ append: ([UInt8]) async throws -> Void) async throws -> Void,
        completed: @escaping @Sendable (FileSpool, (any Error)?) async -> Void
    ) -> Task<Void, Never> {
        let spool = LoopBound(self, loop: loop)
        return Task(executorPreference: loop) {
            await spool.value.run(from: source, completed: completed)
        }
    }

    private func run(
        from source: (_ append: ([UInt8]) async throws -> Void) async throws -> Void,
        completed: (FileSpool, (any Error)?) async -> Void
    ) async {
        var outcome: (any Error)?
        do {
            try await source { chunk in try await take(chunk) }
        } catch {
            outcome = error
        }
        await completed(self, outcome)
        if let outcome {
            failure =
                outcome as? GatewayError
                ?? GatewayError(.connectionError, message: "The download from ComfyUI broke off: \(outcome)")
        }
        ended = true
        wake()
    }

    /// Stores one chunk of the source: in the file, or, once the file cannot be written, handed
    /// over in memory after the file's bytes, waiting until the reader has taken it.
    private func take(_ chunk: [UInt8]) async throws {
        if !fileFailed {
            do {
                try await file.write(chunk)
                written += chunk.count
                wake()
                return
            } catch {
                fileFailed = true
            }
        }
        guard !readerClosed else { throw CancellationError() }
        handOver.append(chunk)
        wake()
        while !handOver.isEmpty && !readerClosed {
            await withCheckedContinuation { fillerWaiter = $0 }
        }
    }

    /// The next chunk for the reader (at most 64 KiB), waiting while the writer is behind; nil
    /// at the end of a complete source. Throws what broke the source.
    package func next() async throws(GatewayError) -> [UInt8]? {
        while true {
            if readOffset < written, let reader {
                let chunk = try await LocalDirectory.disk("read", file.name) {
                    try await reader.read(maxBytes: min(64 * 1024, written - readOffset))
                }
                readOffset += chunk.count
                if !chunk.isEmpty { return chunk }
            }
            if readOffset >= written, !handOver.isEmpty {
                let chunk = handOver.removeFirst()
                fillerWaiter?.resume()
                fillerWaiter = nil
                return chunk
            }
            if let failure { throw failure }
            if ended && readOffset >= written && handOver.isEmpty { return nil }
            guard !Task.isCancelled else {
                throw GatewayError(.internalError, status: 499, message: "The download's reader was cancelled.")
            }
            // A reader whose task is cancelled (its client left) stops waiting at once.
            await withTaskCancellationHandler {
                await withCheckedContinuation { waiter = $0 }
            } onCancel: { [spool = LoopBound(self, loop: loop)] in
                spool.execute { $0.wake() }
            }
        }
    }

    /// Closes the reader's side (the file itself is committed or discarded by the filler).
    package func closeReader() async {
        readerClosed = true
        fillerWaiter?.resume()
        fillerWaiter = nil
        guard let reader else { return }
        self.reader = nil
        try? await reader.close()
    }

    private func wake() {
        waiter?.resume()
        waiter = nil
    }
}
