import Glibc

/// A pthread mutex: the lock behind the loop's cross-thread job queue. (Foundation's `NSLock`
/// would pull all of Foundation into the process; `Synchronization.Mutex` gave ThreadSanitizer
/// false positives on Linux.)
final class PthreadMutex {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }

    func unlock() { pthread_mutex_unlock(mutex) }
}

/// A value guarded by a `PthreadMutex`, for state shared across threads (an inbox written by the
/// loop and read by a task elsewhere).
/// `@unchecked Sendable`: every access to the value holds the mutex.
package final class Locked<Value>: @unchecked Sendable {
    private let mutex = PthreadMutex()
    private var value: Value

    package init(_ value: Value) {
        self.value = value
    }

    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        mutex.lock()
        defer { mutex.unlock() }
        return try body(&value)
    }
}
