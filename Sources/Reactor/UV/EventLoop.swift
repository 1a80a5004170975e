import CLibUV
import Dispatch
import Glibc

/// One libuv loop running on its own thread: the engine under every socket, timer, signal and
/// file operation of the gateway, and (see `EventLoop+Executor.swift`) a Swift executor whose
/// jobs run on that same thread.
///
/// Create it, `start()` it, and `shutdown()` it when done. Every `HandleOwner` registers itself
/// so `closeAllHandles()` can close whatever is still open, and `liveHandleCount` lets tests check
/// that nothing leaked. After the thread ends, `closeStatus` holds what `uv_loop_close` returned
/// (0 means no handle or request was left alive).
/// `@unchecked Sendable`: cross-thread state is under `remoteLock`; the rest is loop-only.
package final class EventLoop: @unchecked Sendable {
    let loop: UnsafeMutablePointer<uv_loop_t>
    let wakeup: UnsafeMutablePointer<uv_async_t>
    let checkHandle: UnsafeMutablePointer<uv_check_t>
    let prepareHandle: UnsafeMutablePointer<uv_prepare_t>

    /// Jobs enqueued on the loop thread: touched only there, so no lock.
    var localJobs: [UnownedJob] = []
    /// Jobs enqueued from other threads, with the stop request; guarded by `remoteLock`.
    var remoteJobs: [UnownedJob] = []
    var stopRequested = false
    /// Set (under `remoteLock`) once the wake-up handle is closing: no send may touch it after.
    var remoteClosed = false
    /// Jobs that arrived after `remoteClosed` (and could not run); guarded by `remoteLock`.
    var lateJobs = 0
    /// The number of jobs that arrived after the loop closed: each is a task that never resumes.
    package var lateJobCount: Int {
        remoteLock.lock()
        defer { remoteLock.unlock() }
        return lateJobs
    }
    let remoteLock = PthreadMutex()
    var isDraining = false
    /// Connections with bytes gathered this iteration, flushed after the jobs (see `TCPConnection`).
    var flushQueue: [TCPConnection] = []
    /// Work to run once this iteration's jobs have run (see `atEndOfTurn`).
    var endOfTurn: [() -> Void] = []

    private var thread: pthread_t?
    private let finished = DispatchSemaphore(value: 0)
    private var handles: [ObjectIdentifier: HandleOwner] = [:]
    private var internalHandlesClosed = false

    /// The one 64 KiB buffer every read callback of this loop reads into; its bytes are handed
    /// on (copied) synchronously, so it is free again when the callback returns.
    let readBuffer: UnsafeMutableRawPointer
    static let readBufferSize = 64 * 1024

    /// What `uv_loop_close` returned once the loop ended; `nil` while it runs.
    package private(set) var closeStatus: Int32?

    /// Creates a loop; nothing runs until `start()`.
    package init() throws(UVError) {
        clibuv_ignore_sigpipe()
        loop = .allocate(capacity: 1)
        wakeup = .allocate(capacity: 1)
        checkHandle = .allocate(capacity: 1)
        prepareHandle = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        try uvCheck(uv_loop_init(loop), "uv_loop_init")
        loop.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_async_init(loop, wakeup) { async in
            EventLoop.of(async!.pointee.loop).drainRemote()
        }
        uv_check_init(loop, checkHandle)
        uv_check_start(checkHandle) { check in
            EventLoop.of(check!.pointee.loop).runJobsAndFlush()
        }
        uv_unref(clibuv_check_as_handle(checkHandle))
        uv_prepare_init(loop, prepareHandle)
        uv_prepare_start(prepareHandle) { prepare in
            EventLoop.of(prepare!.pointee.loop).runJobsAndFlush()
        }
        uv_unref(clibuv_prepare_as_handle(prepareHandle))
    }

    deinit {
        loop.deallocate()
        wakeup.deallocate()
        checkHandle.deallocate()
        prepareHandle.deallocate()
        readBuffer.deallocate()
    }

    static func of(_ loop: UnsafeMutablePointer<uv_loop_t>?) -> EventLoop {
        Unmanaged<EventLoop>.fromOpaque(loop!.pointee.data!).takeUnretainedValue()
    }

    /// Starts the loop's thread. The loop keeps running until `shutdown()` (or `stop()`) and
    /// every handle is closed.
    package func start() {
        let started = DispatchSemaphore(value: 0)
        let unmanaged = Unmanaged.passRetained(self)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        var threadID = pthread_t()
        let box = Unmanaged.passRetained(ThreadStart(loop: unmanaged, started: started))
        let result = pthread_create(
            &threadID, &attributes,
            { argument in
                let start = Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue()
                let loop = start.loop.takeRetainedValue()
                loop.thread = pthread_self()
                start.started.signal()
                loop.runUntilDone()
                return nil
            }, box.toOpaque())
        pthread_attr_destroy(&attributes)
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(threadID)
        started.wait()
    }

    private func runUntilDone() {
        uv_run(loop, UV_RUN_DEFAULT)
        runJobsAndFlush()
        closeStatus = uv_loop_close(loop)
        finished.signal()
    }

    /// True on the loop's own thread.
    package var inLoop: Bool {
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    /// Traps, in release builds too, when called off the loop thread: the check `LoopBound` makes
    /// on every access.
    @inline(__always)
    package func preconditionInLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inLoop, "called off the event loop thread", file: file, line: line)
    }

    /// Traps (in debug builds) when called off the loop thread: the check every loop-bound
    /// object makes before touching its state.
    @inline(__always)
    package func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(inLoop, "called off the event loop thread", file: file, line: line)
    }

    /// Asks the loop to end: its wake-up, check and prepare handles close, and `uv_run` returns
    /// once every other handle is closed too. Callable from any thread.
    package func stop() {
        remoteLock.lock()
        defer { remoteLock.unlock() }
        guard !remoteClosed else { return }
        stopRequested = true
        uv_async_send(wakeup)
    }

    /// Closes every registered handle and stops the loop, then waits for its thread to end.
    /// Callable from any thread but the loop's.
    package func shutdown() {
        precondition(!inLoop, "shutdown() would wait for itself on the loop thread")
        execute { self.closeAllHandles() }
        stop()
        waitUntilStopped()
    }

    /// Blocks until the loop's thread has ended.
    package func waitUntilStopped() {
        finished.wait()
        finished.signal()
    }

    func closeInternalHandles() {
        guard !internalHandlesClosed else { return }
        internalHandlesClosed = true
        remoteLock.lock()
        remoteClosed = true
        let late = remoteJobs
        remoteJobs.removeAll()
        remoteLock.unlock()
        localJobs.append(contentsOf: late)
        drainLocal()
        uv_close(clibuv_async_as_handle(wakeup), nil)
        uv_close(clibuv_check_as_handle(checkHandle), nil)
        uv_close(clibuv_prepare_as_handle(prepareHandle), nil)
    }

    /// Asks for `connection.flush()` at the end of this iteration.
    func scheduleFlush(_ connection: TCPConnection) {
        flushQueue.append(connection)
    }

    /// Runs `body` on the loop thread once the jobs of this iteration have run: what they
    /// gathered (the writes of a batch) goes out together. Call on the loop thread.
    package func atEndOfTurn(_ body: @escaping () -> Void) {
        assertInLoop()
        endOfTurn.append(body)
    }

    /// Runs the queued jobs, then flushes the writes they (and the I/O callbacks) gathered, then
    /// the end-of-turn work; again while that resumed more jobs.
    func runJobsAndFlush() {
        repeat {
            drainLocal()
            var index = 0
            while index < flushQueue.count {
                flushQueue[index].flush()
                index += 1
            }
            flushQueue.removeAll(keepingCapacity: true)
            if !endOfTurn.isEmpty {
                let work = endOfTurn
                endOfTurn.removeAll(keepingCapacity: true)
                for body in work { body() }
            }
        } while !localJobs.isEmpty || !endOfTurn.isEmpty || !flushQueue.isEmpty
    }

    func register(_ owner: HandleOwner) {
        handles[ObjectIdentifier(owner)] = owner
    }

    func unregister(_ owner: HandleOwner) {
        handles[ObjectIdentifier(owner)] = nil
    }

    /// Closes every handle that is still open (listeners, connections, timers, signals).
    package func closeAllHandles() {
        assertInLoop()
        for owner in handles.values { owner.close() }
    }

    /// The number of handles opened through the reactor and not yet closed.
    package var liveHandleCount: Int {
        assertInLoop()
        return handles.count
    }

    /// The loop's cached time in milliseconds (updated once per iteration).
    package var nowMilliseconds: UInt64 { uv_now(loop) }
}

/// What the new loop thread needs; passed through `pthread_create`'s one pointer.
private final class ThreadStart {
    let loop: Unmanaged<EventLoop>
    let started: DispatchSemaphore
    init(loop: Unmanaged<EventLoop>, started: DispatchSemaphore) {
        self.loop = loop
        self.started = started
    }
}
