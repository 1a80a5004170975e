import CLibUV
import Glibc

/// A thread of its own for blocking work (a database's reads and writes), so the event loop
/// never waits on it. Items queue under a mutex; the thread takes every item queued so far at
/// once and hands the batch to `handle`, which is how a store commits the writes that arrived
/// together in one transaction. `handle` gives results back by resuming continuations, which
/// puts each waiting task back on its own executor (the loop, woken by `uv_async_send`).
/// `@unchecked Sendable`: the queue and the stop flag are guarded by `mutex`; `handle` runs on
/// the worker's thread only.
package final class WorkerThread<Item: Sendable>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Item] = []
    private var stopping = false
    private let handle: @Sendable ([Item]) -> Void

    /// Starts the thread, named `name` (up to 15 bytes show in `top -H`).
    package init(name: String, handle: @escaping @Sendable ([Item]) -> Void) {
        self.handle = handle
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        let box = Unmanaged.passRetained(WorkerStart(run: { [self] in run() }, name: String(name.utf8.prefix(15))!))
        var threadID = pthread_t()
        let result = pthread_create(
            &threadID, nil,
            { argument in
                let start = Unmanaged<WorkerStart>.fromOpaque(argument!).takeRetainedValue()
                clibuv_set_thread_name(start.name)
                start.run()
                return nil
            }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(threadID)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Queues `item` and wakes the thread; false (and nothing queued) once `stop()` was called.
    @discardableResult
    package func submit(_ item: Item) -> Bool {
        submit(item, wake: true)
    }

    /// Queues `item`, waking the thread only with `wake`: items queued without waking wait for
    /// the next `wake()` (or a waking submit), so several go in one batch. False (and nothing
    /// queued) once `stop()` was called.
    @discardableResult
    package func submit(_ item: Item, wake: Bool) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !stopping else { return false }
        queue.append(item)
        if wake { pthread_cond_signal(condition) }
        return true
    }

    /// Wakes the thread to handle what is queued.
    package func wake() {
        pthread_mutex_lock(mutex)
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Lets the thread end once it has handled what is queued. Returns at once.
    package func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    private func run() {
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty && !stopping { pthread_cond_wait(condition, mutex) }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            let done = stopping && batch.isEmpty
            pthread_mutex_unlock(mutex)
            if done { return }
            handle(batch)
        }
    }
}

/// What the new worker thread needs; passed through `pthread_create`'s one pointer.
private final class WorkerStart {
    let run: () -> Void
    let name: String
    init(run: @escaping () -> Void, name: String) {
        self.run = run
        self.name = name
    }
}
