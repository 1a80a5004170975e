import Dispatch
import Glibc
import Reactor
import SystemPackage

/// Where every log line goes: standard error, written off the caller's thread and in batches.
///
/// A line is appended to a buffer under a lock (no system call); the first line after a quiet
/// spell wakes the writer on a background queue, which writes the whole buffer with one `write`,
/// then sleeps 2 ms and writes what gathered meanwhile, until a round finds nothing. Under load the
/// lines of many requests leave in one system call, one wake-up serves a whole burst (no timer
/// per batch), and the event loop never waits for the terminal, a pipe or the journal. Past `limit` buffered bytes (a stalled
/// reader), lines are counted and dropped, and the count is written once the writer catches up.
/// `flush()` writes what is buffered before the process exits.
final class LogSink: Sendable {
    static let standardError = LogSink(descriptor: .standardError)

    private struct State {
        var buffer: [UInt8] = []
        var spare: [UInt8] = []
        var drainScheduled = false
        var dropped = 0
    }

    private let descriptor: FileDescriptor
    private let limit: Int
    private let state = Locked(State())
    private let queue = DispatchQueue(label: "comfy-gateway.log-sink")
    /// How long the writer lets lines gather between two writes: under load, the lines of every
    /// request in that time leave in one write.
    private static let gatherMicroseconds: UInt32 = 2000

    init(descriptor: FileDescriptor, limit: Int = 4 << 20) {
        self.descriptor = descriptor
        self.limit = limit
    }

    /// Queues `line` (which ends in a newline) for writing.
    func write(_ line: String) {
        write { $0.append(contentsOf: line.utf8) }
    }

    /// Queues the line `build` appends (ending in a newline) straight into the buffer: no string
    /// is made for it.
    func write(_ build: (inout [UInt8]) -> Void) {
        let wake = state.withLock { state -> Bool in
            let start = state.buffer.count
            build(&state.buffer)
            guard state.buffer.count <= limit else {
                state.buffer.removeSubrange(start...)
                state.dropped += 1
                return false
            }
            guard !state.drainScheduled else { return false }
            state.drainScheduled = true
            return true
        }
        if wake { queue.async { self.drain() } }
    }

    /// Writes everything queued so far, then returns.
    func flush() {
        queue.sync { drain() }
    }

    /// Writes batches until the buffer is empty; runs on `queue` only.
    private func drain() {
        while true {
            let taken = state.withLock { state -> (bytes: [UInt8], dropped: Int)? in
                guard !state.buffer.isEmpty || state.dropped > 0 else {
                    state.drainScheduled = false
                    return nil
                }
                let bytes = state.buffer
                state.buffer = state.spare
                state.spare = []
                let dropped = state.dropped
                state.dropped = 0
                return (bytes, dropped)
            }
            guard let taken else { return }
            var bytes = taken.bytes
            _ = try? descriptor.writeAll(bytes)
            if taken.dropped > 0 {
                let notice = "comfy-gateway: \(taken.dropped) log lines dropped (standard error was too slow)\n"
                _ = try? descriptor.writeAll(Array(notice.utf8))
            }
            // The buffer is reused for the next batch unless a burst made it large.
            if bytes.capacity <= 1 << 16 {
                bytes.removeAll(keepingCapacity: true)
                state.withLock { $0.spare = bytes }
            }
            // Lines keep coming under load: let them gather for the next write.
            usleep(Self.gatherMicroseconds)
        }
    }
}
