import CLibUV

/// A libuv timer: calls `onFire` on the loop thread after a delay, once or repeatedly.
///
/// Loop-bound: create, start, stop and close it on the loop thread. It stays open (and retained)
/// until `close()`; a stopped timer can be started again.
package final class LoopTimer: HandleOwner {
    private var onFire: (() -> Void)?
    /// Called once when the timer's handle has closed (by its owner or by loop shutdown).
    package var onClose: (() -> Void)?

    /// Creates an idle timer on `loop`.
    package init(loop: EventLoop) {
        super.init(loop: loop, byteCount: MemoryLayout<uv_timer_t>.size)
        loop.assertInLoop()
        uv_timer_init(loop.loop, timer)
        adopt()
    }

    private var timer: UnsafeMutablePointer<uv_timer_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_timer_t.self)
    }

    /// Arms the timer; a running timer is re-armed. `repeatEvery` 0 fires once.
    package func start(afterMilliseconds delay: UInt64, repeatEvery: UInt64 = 0, _ onFire: @escaping () -> Void) {
        guard !isClosing else { return }
        self.onFire = onFire
        uv_timer_start(
            timer,
            { timer in
                HandleOwner.owner(of: timer, as: LoopTimer.self).onFire?()
            }, delay, repeatEvery)
    }

    /// Arms the timer for a deadline on a peer (a request that must arrive, a response that must
    /// come): once `delay` has passed it re-arms itself for 1 ms before calling `onFire`, so the
    /// loop polls for I/O once in between. libuv runs due timers before it reads, so after the
    /// loop was busy for longer than `delay`, a plain timer would time out a peer whose bytes are
    /// already waiting in the kernel.
    package func startAfterPendingIO(afterMilliseconds delay: UInt64, _ onFire: @escaping () -> Void) {
        start(afterMilliseconds: delay) { [unowned self] in
            start(afterMilliseconds: 1, onFire)
        }
    }

    /// Arms the timer to fire once after `delay` (rounded up to whole milliseconds, at least 1;
    /// a negative delay fires at the next loop turn).
    package func start(after delay: Duration, _ onFire: @escaping () -> Void) {
        start(afterMilliseconds: Self.milliseconds(delay), onFire)
    }

    /// Arms the timer to fire every `interval` (at least 1 ms).
    package func start(every interval: Duration, _ onFire: @escaping () -> Void) {
        let milliseconds = Self.milliseconds(interval)
        start(afterMilliseconds: milliseconds, repeatEvery: milliseconds, onFire)
    }

    /// `startAfterPendingIO(afterMilliseconds:)` for a `Duration`.
    package func startAfterPendingIO(after delay: Duration, _ onFire: @escaping () -> Void) {
        startAfterPendingIO(afterMilliseconds: Self.milliseconds(delay), onFire)
    }

    /// A delay in whole milliseconds as libuv counts them: rounded up, at least 1.
    package static func milliseconds(_ delay: Duration) -> UInt64 {
        let parts = delay.components
        guard parts.seconds >= 0 else { return 1 }
        let whole = parts.seconds.multipliedReportingOverflow(by: 1000)
        guard !whole.overflow else { return UInt64(Int64.max) }
        let fraction = (parts.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return UInt64(max(1, whole.partialValue + fraction))
    }

    /// Disarms the timer.
    package func stop() {
        guard !isClosing else { return }
        uv_timer_stop(timer)
    }

    /// Lets the loop end while this timer is still armed.
    package func unref() {
        uv_unref(handle)
    }

    override func didClose() {
        onFire = nil
        let onClose = self.onClose
        self.onClose = nil
        onClose?()
    }
}

extension EventLoop {
    /// Suspends the calling task for `milliseconds` using a loop timer. Returns early if the
    /// loop closes the timer while shutting down.
    package func sleep(milliseconds: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            execute {
                let timer = LoopTimer(loop: self)
                timer.onClose = { continuation.resume() }
                timer.start(afterMilliseconds: milliseconds) { timer.close() }
            }
        }
    }
}
