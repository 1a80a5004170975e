import CLibUV
import Glibc

/// The loop as a Swift executor: jobs enqueued here run on the loop thread.
///
/// Two queues keep the hot path cheap. A job enqueued *on* the loop thread (a handler resuming
/// after a write completed, a continuation resumed from a libuv callback) goes to `localJobs`: a
/// plain array, no lock, no syscall. It is drained after the I/O callbacks of each iteration
/// (`uv_check_t`) and before the loop blocks (`uv_prepare_t`), so it never waits on I/O. A job from
/// any other thread goes to `remoteJobs` under a mutex, and one `uv_async_send` wakes the loop when
/// that array turns non-empty; sends coalesce, so each wake-up drains everything.
///
/// The drain never re-enters: a job that enqueues more jobs only appends to the array being
/// drained, and a drain called while one runs returns at once.
extension EventLoop: SerialExecutor, TaskExecutor {
    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if inLoop {
            localJobs.append(job)
            return
        }
        // The send happens under the lock so it can never race the wake-up handle's close: once
        // `remoteClosed` is set the loop is ending, and a job sent then cannot run on it. Its task
        // would wait forever without a word, so it is reported: that is a bug to fix (work
        // scheduled on a loop after `shutdown()`), and the report names the loop.
        remoteLock.lock()
        defer { remoteLock.unlock() }
        guard !remoteClosed else {
            lateJobs += 1
            Self.reportLateJob(count: lateJobs)
            return
        }
        let wasEmpty = remoteJobs.isEmpty
        remoteJobs.append(job)
        if wasEmpty {
            uv_async_send(wakeup)
        }
    }

    /// Writes one line to stderr for the first job enqueued after the loop closed, and for every
    /// hundredth after it (stderr directly: the loop that would carry a log line is gone).
    private static func reportLateJob(count: Int) {
        guard count == 1 || count % 100 == 0 else { return }
        let line =
            "comfy-gateway: BUG: \(count) task job\(count == 1 ? "" : "s") enqueued on an event loop that has closed; "
            + "the task will never resume\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count - 1) }
    }

    package func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    package func checkIsolated() {
        precondition(inLoop, "expected to run on the event loop thread")
    }

    package func isIsolatingCurrentContext() -> Bool? {
        inLoop
    }

    /// Runs `body` on the loop thread: inline when already there, else as a job.
    package func execute(_ body: @escaping @Sendable () -> Void) {
        if inLoop {
            body()
        } else {
            Task(executorPreference: self) { body() }
        }
    }

    /// Runs `body` on the loop thread and returns its result to the caller's task; throws
    /// `UVError.loopClosed` at once when the loop has closed (the body could never run).
    package func submit<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        if inLoop { return try body() }
        guard !isClosedToJobs else { throw UVError.loopClosed }
        return try await Task(executorPreference: self) { try body() }.value
    }

    /// True once the loop takes no more jobs (it is ending or has ended).
    package var isClosedToJobs: Bool {
        remoteLock.lock()
        defer { remoteLock.unlock() }
        return remoteClosed
    }

    func drainRemote() {
        remoteLock.lock()
        let jobs = remoteJobs
        remoteJobs.removeAll(keepingCapacity: true)
        let stopping = stopRequested
        remoteLock.unlock()
        localJobs.append(contentsOf: jobs)
        drainLocal()
        if stopping {
            closeInternalHandles()
        }
    }

    func drainLocal() {
        guard !isDraining else { return }
        isDraining = true
        defer { isDraining = false }
        var index = 0
        while index < localJobs.count {
            let job = localJobs[index]
            index += 1
            job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
        }
        localJobs.removeAll(keepingCapacity: true)
    }
}
