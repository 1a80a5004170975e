import Glibc
import Reactor

/// Waits for SIGTERM or SIGINT, watched on the event loop.
enum ShutdownSignal {
    /// Returns the number of the first of the two signals to arrive.
    static func wait(on loop: EventLoop) async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            loop.execute {
                var watchers: [SignalWatcher] = []
                var resumed = false
                for number in [SIGTERM, SIGINT] {
                    let watcher = try? SignalWatcher(loop: loop, signal: number) { received in
                        guard !resumed else { return }
                        resumed = true
                        for watcher in watchers { watcher.close() }
                        continuation.resume(returning: received)
                    }
                    if let watcher { watchers.append(watcher) }
                }
            }
        }
    }
}
