import Glibc
import Reactor

/// SIGTERM and SIGINT, watched on the event loop from before the listener opens (a signal that
/// arrives during start-up must not kill the process with the default action).
final class ShutdownSignal: Sendable {
    private let signals: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation

    private init() {
        (signals, continuation) = AsyncStream.makeStream(of: Int32.self)
    }

    /// Installs the watchers on `loop`.
    static func install(on loop: EventLoop) async throws -> ShutdownSignal {
        let shutdown = ShutdownSignal()
        let continuation = shutdown.continuation
        try await loop.submit {
            for number in [SIGTERM, SIGINT] {
                _ = try SignalWatcher(loop: loop, signal: number) { continuation.yield($0) }
            }
        }
        return shutdown
    }

    /// Returns the number of the first signal received.
    func wait() async -> Int32 {
        for await number in signals { return number }
        return SIGTERM
    }
}
