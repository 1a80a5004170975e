import Dispatch
import Reactor
import SystemPackage

/// Where every log line goes: standard error, written off the caller's thread and in batches.
///
/// A line is appended to a buffer under a lock (no system call); the first line of a batch
/// schedules one drain on a background queue 2 ms later, which takes the whole buffer and writes
/// it with one `write`. Under load the lines of many requests leave in one system call, and the event loop
/// never waits for the terminal, a pipe or the journal. Past `limit` buffered bytes (a stalled
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
    /// How long the first line of a batch waits for others: under load, the lines of every
    /// request in that time leave in one write, and the writer wakes at most this often.
    private static let gatherTime = DispatchTimeInterval.milliseconds(2)

    init(descriptor: FileDescriptor, limit: Int = 4 << 20) {
        self.descriptor = descriptor
        self.limit = limit
    }

    /// Queues `line` (which ends in a newline) for writing.
    func write(_ line: String) {
        let schedule = state.withLock { state -> Bool in
            guard state.buffer.count + line.utf8.count <= limit else {
                state.dropped += 1
                return false
            }
            state.buffer.append(contentsOf: line.utf8)
            guard !state.drainScheduled else { return false }
            state.drainScheduled = true
            return true
        }
        if schedule { queue.asyncAfter(deadline: .now() + Self.gatherTime) { self.drain() } }
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
            guard bytes.capacity <= 1 << 16 else { continue }
            bytes.removeAll(keepingCapacity: true)
            state.withLock { $0.spare = bytes }
        }
    }
}
