import CLibUV

/// Watches one Unix signal (SIGTERM, SIGINT) through `uv_signal_t` and calls `onSignal` on the
/// loop thread each time it arrives.
package final class SignalWatcher: HandleOwner {
    private var onSignal: ((Int32) -> Void)?

    /// Starts watching `signal` on `loop`; call on the loop thread.
    package init(loop: EventLoop, signal: Int32, _ onSignal: @escaping (Int32) -> Void) throws(UVError) {
        self.onSignal = onSignal
        super.init(loop: loop, byteCount: MemoryLayout<uv_signal_t>.size)
        loop.assertInLoop()
        let signalHandle = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_signal_t.self)
        try uvCheck(uv_signal_init(loop.loop, signalHandle), "uv_signal_init")
        adopt()
        let status = uv_signal_start(
            signalHandle,
            { handle, signum in
                HandleOwner.owner(of: handle, as: SignalWatcher.self).onSignal?(signum)
            }, signal)
        if status < 0 {
            close()
            throw UVError(code: status, operation: "uv_signal_start")
        }
    }

    /// Lets the loop end while the watcher is still installed.
    package func unref() {
        uv_unref(handle)
    }

    override func didClose() {
        onSignal = nil
    }
}
