import CLibUV

/// The Swift owner of one libuv handle, and the lifetime rule every handle follows.
///
/// libuv may touch a handle until its close callback has run, so the owner keeps itself
/// retained (through the handle's `data` field) from the moment the handle is initialised until
/// that callback. The close callback is the only place that retain is dropped, and `deinit` (which
/// can only run after it) is the only place the handle memory is freed. Never touch a handle
/// after `close()`.
///
/// Subclasses allocate their `uv_*_t`, initialise it on the loop, then call `adopt()`. Owners are
/// not `Sendable`: a task or closure that must carry one to the loop carries a `LoopBound`.
package class HandleOwner {
    /// The loop the handle belongs to; every method of an owner runs on its thread.
    package let loop: EventLoop
    /// The handle memory, typed as the common `uv_handle_t` prefix.
    let handle: UnsafeMutablePointer<uv_handle_t>
    private let storage: UnsafeMutableRawPointer
    private var adopted = false
    /// True once `close()` has been called.
    private(set) var isClosing = false

    init(loop: EventLoop, byteCount: Int) {
        self.loop = loop
        storage = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        handle = storage.bindMemory(to: uv_handle_t.self, capacity: 1)
    }

    /// Marks the handle as initialised: retains the owner until the close callback and registers
    /// it with the loop so shutdown can close it.
    func adopt() {
        precondition(!adopted, "Internal inconsistency: handle adopted twice")
        adopted = true
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        loop.register(self)
    }

    /// Starts closing the handle; `didClose()` runs from the close callback on a later iteration.
    package func close() {
        guard adopted, !isClosing else { return }
        isClosing = true
        willClose()
        closeHandle { handle in
            guard let handle, let data = handle.pointee.data else { return }
            let owner = Unmanaged<HandleOwner>.fromOpaque(data).takeRetainedValue()
            owner.loop.unregister(owner)
            owner.didClose()
        }
    }

    /// Starts closing the handle with `callback` as its close callback (a TCP connection may
    /// reset instead).
    func closeHandle(_ callback: uv_close_cb) {
        uv_close(handle, callback)
    }

    /// Called by `close()` before `uv_close`, while the handle is still fully usable.
    func willClose() {}

    /// Called from the close callback: libuv is done with the handle.
    func didClose() {}

    /// Recovers the owner of a handle inside a C callback.
    static func owner<T: HandleOwner>(of handle: UnsafeMutableRawPointer?, as type: T.Type) -> T {
        let typed = handle!.assumingMemoryBound(to: uv_handle_t.self)
        return unsafeDowncast(Unmanaged<HandleOwner>.fromOpaque(typed.pointee.data!).takeUnretainedValue(), to: T.self)
    }

    deinit {
        storage.deallocate()
    }
}
