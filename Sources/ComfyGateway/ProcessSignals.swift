import Glibc
import Reactor

/// The signals the gateway acts on, watched on the event loop from before the listener opens (a
/// signal that arrives during start-up must not kill the process with the default action):
/// SIGTERM and SIGINT stop it, SIGHUP reloads its configuration.
final class ProcessSignals: Sendable {
    /// What a signal asks for.
    enum Request: Sendable, Equatable {
        case stop(signal: Int32)
        case reload
    }

    private let requests: AsyncStream<Request>
    private let continuation: AsyncStream<Request>.Continuation

    private init() {
        (requests, continuation) = AsyncStream.makeStream(of: Request.self)
    }

    /// Installs the watchers on `loop`.
    static func install(on loop: EventLoop) async throws -> ProcessSignals {
        let signals = ProcessSignals()
        let continuation = signals.continuation
        try await loop.submit {
            for number in [SIGTERM, SIGINT, SIGHUP] {
                _ = try SignalWatcher(loop: loop, signal: number) { received in
                    continuation.yield(received == SIGHUP ? .reload : .stop(signal: received))
                }
            }
        }
        return signals
    }

    /// Calls `reload` for each SIGHUP, in order, and returns the first stopping signal.
    func waitForStop(reloading reload: () async -> Void) async -> Int32 {
        for await request in requests {
            switch request {
            case .reload: await reload()
            case .stop(let signal): return signal
            }
        }
        return SIGTERM
    }
}
