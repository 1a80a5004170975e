import DequeModule

/// Messages a connection has received and its application has not taken yet, as an async
/// sequence with backpressure: once more than `highWaterMark` bytes wait, `pause` is called (the
/// owner stops reading its socket, so a peer that sends faster than the application reads is held
/// back by TCP instead of filling memory); once the application has taken them down to
/// `lowWaterMark`, `resume` is called. Ends after `finish()` once the queue is empty, or for a
/// consumer whose task is cancelled. The queue is safe from any thread, one consumer at a time;
/// `pause` runs on the producer's thread and `resume` on the consumer's, so an owner whose state
/// they touch hops to its own loop in them (as `init(pausing:)` does).
package final class MessageInbox<Element: Sendable>: AsyncSequence, Sendable {
    private struct State {
        var queue = Deque<Element>()
        var bytes = 0
        var paused = false
        var finished = false
        var waiter: CheckedContinuation<Element?, Never>?
        var waiterCancelled = false

        mutating func popFirst(size: (Element) -> Int) -> Element? {
            guard let element = queue.popFirst() else { return nil }
            bytes -= size(element)
            return element
        }
    }

    private let state = Locked(State())
    private let size: @Sendable (Element) -> Int
    private let highWaterMark: Int
    private let lowWaterMark: Int
    private let pause: @Sendable () -> Void
    private let resume: @Sendable () -> Void

    /// `size` measures an element (add a per-message overhead so floods of empty messages count).
    package init(
        highWaterMark: Int, lowWaterMark: Int, size: @escaping @Sendable (Element) -> Int,
        pause: @escaping @Sendable () -> Void, resume: @escaping @Sendable () -> Void
    ) {
        precondition(lowWaterMark <= highWaterMark, "the low-water mark must not exceed the high one")
        self.highWaterMark = highWaterMark
        self.lowWaterMark = lowWaterMark
        self.size = size
        self.pause = pause
        self.resume = resume
    }

    /// Bytes waiting to be taken.
    package var waitingBytes: Int { state.withLock { $0.bytes } }

    /// True once `finish()` was called and every element has been taken: a `nil` from `next()`
    /// then means the end, not a cancelled reader.
    package var isDrained: Bool { state.withLock { $0.finished && $0.bytes == 0 } }

    /// Adds a received element (ignored after `finish()`).
    package func yield(_ element: Element) {
        let (waiter, shouldPause) = state.withLock { state -> (CheckedContinuation<Element?, Never>?, Bool) in
            guard !state.finished else { return (nil, false) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, false)
            }
            state.queue.append(element)
            state.bytes += size(element)
            guard state.bytes > highWaterMark, !state.paused else { return (nil, false) }
            state.paused = true
            return (nil, true)
        }
        waiter?.resume(returning: element)
        if shouldPause { pause() }
    }

    /// No more elements will come; the consumer still gets those already queued.
    package func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    private func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let (immediate, shouldResume) = state.withLock { state -> (Element??, Bool) in
                    if let element = state.popFirst(size: size) {
                        let resume = state.paused && state.bytes <= lowWaterMark
                        if resume { state.paused = false }
                        return (.some(element), resume)
                    }
                    if state.finished || state.waiterCancelled { return (.some(nil), false) }
                    state.waiter = continuation
                    return (nil, false)
                }
                if shouldResume { resume() }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
                state.waiterCancelled = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    package func makeAsyncIterator() -> Iterator { Iterator(inbox: self) }

    /// Takes elements in order; `nil` once the inbox is finished and empty.
    package struct Iterator: AsyncIteratorProtocol {
        let inbox: MessageInbox

        package mutating func next() async -> Element? { await inbox.next() }
    }
}

extension MessageInbox {
    /// An inbox that pauses reading `connection` while more than `limit` bytes wait, and resumes
    /// once a quarter of that is left. It holds the connection strongly (a weak reference would
    /// slow down every retain of it); the cycle through the connection's delegate ends when the
    /// connection closes.
    package convenience init(pausing connection: TCPConnection, limit: Int, size: @escaping @Sendable (Element) -> Int)
    {
        let bound = LoopBound(connection, loop: connection.loop)
        self.init(
            highWaterMark: limit, lowWaterMark: limit / 4, size: size,
            pause: { bound.execute { $0.pauseReading() } },
            resume: { bound.execute { $0.startReading() } })
    }
}
