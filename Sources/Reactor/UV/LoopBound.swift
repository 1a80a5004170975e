/// A loop-confined value made `Sendable`: a task or closure that runs on the value's loop can
/// carry it, and every access checks, in release builds too, that it happens on the loop thread.
///
/// This is what lets the loop's objects (connections, timers, the servers and coordinators built
/// on them) stay plain non-`Sendable` classes: the compiler refuses to hand one to another thread,
/// and the one door it is given, `LoopBound`, traps if anything walks through it off the loop.
/// (SwiftNIO's `NIOLoopBound` is the model.)
/// `@unchecked Sendable`: `value` traps off the loop thread, in every build.
package struct LoopBound<Value>: @unchecked Sendable {
    /// The loop the value is confined to.
    package let loop: EventLoop
    private let stored: Value

    /// Binds `value` to `loop`; must be called on the loop's thread.
    package init(_ value: Value, loop: EventLoop) {
        loop.preconditionInLoop()
        self.loop = loop
        stored = value
    }

    /// The value; traps when read off the loop thread.
    package var value: Value {
        loop.preconditionInLoop()
        return stored
    }

    /// Runs `body` with the value on the loop thread (inline when already there); callable from
    /// any thread.
    package func execute(_ body: @escaping @Sendable (Value) -> Void) {
        loop.execute { body(self.value) }
    }
}
