import CLibUV

/// What a `TCPConnection` tells its owner. Every call arrives on the loop thread.
package protocol TCPConnectionDelegate: AnyObject {
    /// Bytes arrived. They are a copy: keep them as long as needed.
    func connection(_ connection: TCPConnection, didRead bytes: [UInt8])
    /// The peer shut down its sending side (FIN). Reading has stopped; writing still works.
    func connectionDidReadEOF(_ connection: TCPConnection)
    /// Pending writes fell under the low-water mark after having passed the high one.
    func connectionDidBecomeWritable(_ connection: TCPConnection)
    /// The handle is closed; `error` is the failure that closed it, if any. Last call.
    func connection(_ connection: TCPConnection, didCloseWith error: UVError?)
}

/// One TCP stream: reads into the loop's shared buffer, writes through a queue with one
/// `uv_write` in flight, stops reading while too much is waiting to be written, and closes in
/// order (every write callback before the close callback, as libuv guarantees).
///
/// The first write of a loop iteration goes straight to the kernel with `uv_try_write` (a response
/// leaves at once). Later writes in the same iteration are gathered in `pending` and flushed once
/// when the iteration's callbacks and jobs are done, so a burst of small writes (a WebSocket
/// broadcast) costs one system call, not one per message. What the kernel does not take goes out
/// by `uv_write`, whose bytes live in `inFlight` while `pending` collects the next batch: never
/// more than one write request.
/// Loop-bound: call every method on the loop thread.
package final class TCPConnection: HandleOwner {
    /// Receives reads, EOF, writability and the close. Held strongly until the close.
    package var delegate: (any TCPConnectionDelegate)?

    /// Pending write bytes above which reading pauses.
    package var highWaterMark = 256 * 1024
    /// Pending write bytes under which reading resumes.
    package var lowWaterMark = 64 * 1024
    /// Writes gathered in one loop iteration go out as soon as they reach this many bytes, so a
    /// long burst (a task sending many messages without yielding) leaves in batches rather than
    /// all at the end of the iteration.
    package var gatherLimit = 4 * 1024
    /// How long queued bytes may wait for the peer to take any of them before the connection is
    /// closed as stalled (a client that stops reading must not hold a connection forever).
    package var writeStallTimeoutMilliseconds: UInt64 = 60_000

    private var pending = OutputBuffer()
    private var inFlight = OutputBuffer()
    private var writeRequest: UnsafeMutablePointer<uv_write_t>?
    private var shutdownRequest: UnsafeMutablePointer<uv_shutdown_t>?
    /// The sending side: open, FIN asked for once the queue drains, or FIN sent.
    private var writeSide = WriteSide.open
    /// Whether the peer has sent its FIN.
    private var peer = PeerSide.sending
    /// How the owner asked the connection to end, if it did.
    private var ending = Ending.notAsked
    /// What the owner wants: reads delivered or not.
    private var wantsReading = false
    /// Reading is held back while too many written bytes wait (`highWaterMark`).
    private var pausedForWrites = false
    /// Whether libuv is reading (the result of the three above).
    private var isReading = false
    /// A flush of the gathered writes is queued for the end of this loop iteration.
    private var flushScheduled = false
    /// Bounds a write that makes no progress, then the linger after a graceful close.
    private var deadlineTimer: LoopTimer?
    private var closeError: UVError?
    private var writableWaiters: [CheckedContinuation<Void, any Error>] = []

    /// Creates an unconnected TCP handle on `loop` (used by the listener and the connector).
    init(loop: EventLoop) throws(UVError) {
        super.init(loop: loop, byteCount: MemoryLayout<uv_tcp_t>.size)
        try uvCheck(uv_tcp_init(loop.loop, tcp), "uv_tcp_init")
        adopt()
    }

    var tcp: UnsafeMutablePointer<uv_tcp_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self)
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> { clibuv_tcp_as_stream(tcp) }

    deinit {
        writeRequest?.deallocate()
        shutdownRequest?.deallocate()
        pending.release()
        inFlight.release()
    }

    /// Bytes accepted by `write` that the kernel has not yet taken.
    package var pendingWriteBytes: Int { pending.count + inFlight.count }

    /// True once the connection is closing or closed: writes are dropped.
    package var isClosed: Bool { isClosing }

    /// The peer's address as `host:port`, for logs.
    package var remoteAddress: String {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(tcp, $0, &length) }
        }
        guard status == 0 else { return "unknown" }
        return SocketAddress.describe(storage)
    }

    /// Disables Nagle's algorithm: small responses leave at once.
    func setNoDelay() {
        uv_tcp_nodelay(tcp, 1)
    }

    // MARK: Reading

    /// Starts delivering reads to the delegate.
    package func startReading() {
        loop.assertInLoop()
        wantsReading = true
        updateReading()
    }

    /// Stops delivering reads (the owner's backpressure); `startReading()` resumes.
    package func pauseReading() {
        loop.assertInLoop()
        wantsReading = false
        updateReading()
    }

    /// True while a graceful close waits for the peer's FIN (reads are then discarded).
    private var isLingering: Bool {
        if case .graceful = ending { return true }
        return false
    }

    private func updateReading() {
        let shouldRead = (wantsReading && !pausedForWrites || isLingering) && peer == .sending && !isClosing
        if shouldRead && !isReading {
            isReading = true
            let status = uv_read_start(
                stream,
                { handle, _, buffer in
                    let loop = HandleOwner.owner(of: handle, as: TCPConnection.self).loop
                    buffer!.pointee = uv_buf_init(
                        loop.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(EventLoop.readBufferSize))
                },
                { stream, count, buffer in
                    HandleOwner.owner(of: stream, as: TCPConnection.self).didRead(
                        count: count, base: buffer!.pointee.base)
                })
            if status < 0 { fail(UVError(code: status, operation: "uv_read_start")) }
        } else if !shouldRead && isReading {
            isReading = false
            uv_read_stop(stream)
        }
    }

    private func didRead(count: Int, base: UnsafeMutablePointer<CChar>?) {
        if count > 0 {
            if isLingering { return }
            let bytes = [UInt8](UnsafeRawBufferPointer(start: base, count: count))
            delegate?.connection(self, didRead: bytes)
        } else if count == Int(clibuv_eof()) {
            peer = .finished
            updateReading()
            if isLingering {
                close()
            } else {
                delegate?.connectionDidReadEOF(self)
            }
        } else if count < 0 {
            fail(UVError(code: Int32(count), operation: "read"))
        }
    }

    // MARK: Writing

    /// Queues `bytes` for writing. Returns false when the connection no longer writes.
    @discardableResult
    package func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { write(raw: $0) }
    }

    /// Queues several byte arrays as one batch.
    @discardableResult
    package func write(contentsOf parts: [[UInt8]]) -> Bool {
        for part in parts where !write(part) { return false }
        return true
    }

    private func write(raw bytes: UnsafeRawBufferPointer) -> Bool {
        loop.assertInLoop()
        guard !isClosing, writeSide == .open else { return false }
        guard bytes.count > 0 else { return true }
        if pending.isEmpty && inFlight.isEmpty && !flushScheduled {
            flushScheduled = true
            loop.scheduleFlush(self)
            var buffer = uv_buf_init(
                UnsafeMutableRawPointer(mutating: bytes.baseAddress!).assumingMemoryBound(to: CChar.self),
                UInt32(bytes.count))
            let written = Int(uv_try_write(stream, &buffer, 1))
            if written == bytes.count { return true }
            if written < 0 && written != Int(clibuv_eagain()) {
                fail(UVError(code: Int32(written), operation: "uv_try_write"))
                return false
            }
            pending.append(UnsafeRawBufferPointer(rebasing: bytes[max(written, 0)...]))
        } else {
            pending.append(bytes)
            if inFlight.isEmpty && pending.count >= gatherLimit {
                flush()
            } else if inFlight.isEmpty && !flushScheduled {
                flushScheduled = true
                loop.scheduleFlush(self)
            }
        }
        if pendingWriteBytes > highWaterMark && !pausedForWrites {
            pausedForWrites = true
            updateReading()
        }
        return true
    }

    /// Sends what was gathered so far now, instead of at the end of the loop iteration (before an
    /// abrupt `close()` that should still deliver what was written).
    package func flushNow() {
        flush()
    }

    /// Sends what was gathered this iteration; called by the loop.
    func flush() {
        flushScheduled = false
        guard !isClosing, inFlight.isEmpty, !pending.isEmpty else { return }
        var buffer = uv_buf_init(pending.base!.assumingMemoryBound(to: CChar.self), UInt32(pending.count))
        let written = Int(uv_try_write(stream, &buffer, 1))
        if written == pending.count {
            pending.clear()
            writesDrained()
            return
        }
        if written < 0 && written != Int(clibuv_eagain()) {
            fail(UVError(code: Int32(written), operation: "uv_try_write"))
            return
        }
        pending.removeFirst(max(written, 0))
        startWrite()
    }

    private func startWrite() {
        guard inFlight.isEmpty, !pending.isEmpty else { return }
        swap(&pending, &inFlight)
        if writeRequest == nil {
            writeRequest = .allocate(capacity: 1)
        }
        writeRequest!.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        var buffer = uv_buf_init(inFlight.base!.assumingMemoryBound(to: CChar.self), UInt32(inFlight.count))
        let status = uv_write(writeRequest!, stream, &buffer, 1) { request, status in
            let connection = Unmanaged<TCPConnection>.fromOpaque(request!.pointee.data!).takeUnretainedValue()
            connection.didWrite(status: status)
        }
        if status < 0 {
            inFlight.clear()
            fail(UVError(code: status, operation: "uv_write"))
            return
        }
        armDeadline(writeStallTimeoutMilliseconds) { connection in
            connection.fail(UVError.timedOut("write (peer stopped reading)"))
        }
    }

    private func armDeadline(_ milliseconds: UInt64, _ action: @escaping (TCPConnection) -> Void) {
        guard !isClosing else { return }
        let timer = deadlineTimer ?? LoopTimer(loop: loop)
        deadlineTimer = timer
        timer.start(afterMilliseconds: milliseconds) { [weak self] in
            guard let self else { return }
            action(self)
        }
    }

    private func didWrite(status: Int32) {
        inFlight.clear()
        if status < 0 {
            if status != clibuv_ecanceled() { fail(UVError(code: status, operation: "write")) }
            return
        }
        if !pending.isEmpty {
            startWrite()
        } else {
            writesDrained()
        }
        if pausedForWrites && pendingWriteBytes <= lowWaterMark {
            pausedForWrites = false
            updateReading()
            resumeWritableWaiters(with: nil)
            delegate?.connectionDidBecomeWritable(self)
        }
    }

    /// Everything queued has been taken by the kernel.
    private func writesDrained() {
        deadlineTimer?.stop()
        if writeSide == .finAfterFlush { startShutdown() }
        if pausedForWrites {
            pausedForWrites = false
            updateReading()
            resumeWritableWaiters(with: nil)
            delegate?.connectionDidBecomeWritable(self)
        }
    }

    /// Returns once pending writes are under the low-water mark; throws if the connection closes
    /// first. A streamed response awaits this between chunks.
    package func waitUntilWritable() async throws {
        loop.assertInLoop()
        if isClosing { throw closeError ?? UVError.cancelled("write") }
        if pendingWriteBytes <= highWaterMark { return }
        try await withCheckedThrowingContinuation { writableWaiters.append($0) }
    }

    private func resumeWritableWaiters(with error: (any Error)?) {
        let waiters = writableWaiters
        writableWaiters.removeAll()
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }

    // MARK: Closing

    /// Half-close: sends FIN once every queued byte is written; reading goes on.
    package func shutdownWrite() {
        loop.assertInLoop()
        guard !isClosing, writeSide == .open else { return }
        writeSide = .finAfterFlush
        if pending.isEmpty && inFlight.isEmpty { startShutdown() }
    }

    /// Orderly close: writes everything queued (bounded by the write-stall timeout), sends FIN,
    /// then reads and discards what the peer still sends until its FIN (or `lingerMilliseconds`
    /// after the FIN went out), and only then closes. This keeps an error response from being
    /// destroyed by a reset when the peer is still sending.
    package func closeGracefully(lingerMilliseconds: UInt64 = 2000) {
        loop.assertInLoop()
        guard !isClosing, !isLingering else { return }
        if peer == .finished && pending.isEmpty && inFlight.isEmpty && writeSide != .finAfterFlush {
            close()
            return
        }
        ending = .graceful(lingerMilliseconds: lingerMilliseconds)
        updateReading()
        if writeSide == .finished {
            if peer == .finished {
                close()
            } else {
                armDeadline(lingerMilliseconds) { $0.close() }
            }
            return
        }
        shutdownWrite()
    }

    private func startShutdown() {
        guard writeSide != .finished, !isClosing else { return }
        writeSide = .finished
        if shutdownRequest == nil { shutdownRequest = .allocate(capacity: 1) }
        shutdownRequest!.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let status = uv_shutdown(shutdownRequest!, stream) { request, status in
            let connection = Unmanaged<TCPConnection>.fromOpaque(request!.pointee.data!).takeUnretainedValue()
            connection.didShutdown(status: status)
        }
        if status < 0 { fail(UVError(code: status, operation: "uv_shutdown")) }
    }

    private func didShutdown(status: Int32) {
        guard status != clibuv_ecanceled(), case .graceful(let lingerMilliseconds) = ending else { return }
        if peer == .finished || status < 0 {
            close()
        } else {
            updateReading()
            armDeadline(lingerMilliseconds) { $0.close() }
        }
    }

    private func fail(_ error: UVError) {
        if closeError == nil { closeError = error }
        close()
    }

    /// Aborts the connection: unsent data is dropped and the peer gets a TCP RST instead of a
    /// FIN (`uv_tcp_close_reset`), as for an upstream that must not see a clean end.
    package func reset() {
        loop.assertInLoop()
        ending = .reset
        close()
    }

    override func closeHandle(_ callback: uv_close_cb) {
        if ending == .reset && writeSide != .finished && uv_tcp_close_reset(tcp, callback) == 0 { return }
        super.closeHandle(callback)
    }

    override func willClose() {
        deadlineTimer?.close()
        deadlineTimer = nil
        isReading = false
    }

    override func didClose() {
        let delegate = self.delegate
        self.delegate = nil
        resumeWritableWaiters(with: closeError ?? UVError.cancelled("write"))
        delegate?.connection(self, didCloseWith: closeError)
    }
}

/// The sending side of a connection.
private enum WriteSide {
    /// Writes are accepted.
    case open
    /// `shutdownWrite()` was called: FIN goes out once the queue is written; no more writes.
    case finAfterFlush
    /// FIN has been handed to the kernel.
    case finished
}

/// The peer's sending side, as reads tell it.
private enum PeerSide {
    case sending
    /// Its FIN arrived: nothing more will be read.
    case finished
}

/// How the owner asked the connection to end.
private enum Ending: Equatable {
    case notAsked
    /// `closeGracefully`: write what is queued, FIN, discard reads until the peer's FIN or the
    /// linger time after ours, then close.
    case graceful(lingerMilliseconds: UInt64)
    /// `reset`: close at once with an RST.
    case reset
}
