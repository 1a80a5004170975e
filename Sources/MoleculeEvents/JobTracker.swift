package import AtomComfySocket
package import Codecs
import DequeModule
import Models

/// The job tracker's state, without I/O: which prompt belongs to which caller's client id, what
/// each tracked prompt has reported so far, and which ComfyUI events become which gateway
/// notices. `UpstreamEvents` feeds it ComfyUI's events and the answers of its history reads.
///
/// - The gateway makes each job's id, so a prompt is tracked before it is sent. Until its
///   submit is answered it is *held*: its events wait (in order) and are passed on by
///   `release(promptID:)`, so a caller hears `submitted` before any of its prompt's events.
///   Events for ids the gateway never tracked belong to other ComfyUI users and are dropped.
/// - Completion (`docs/comfyui.md`, "Order of events and completion"): the terminal message,
///   then `executing` with a null node; only then is the history read (`Action.readHistory`).
/// - One end per prompt: `finished` or `lost`, once; the prompt is then forgotten, and later
///   events for it are ignored.
package struct JobTracker {
    /// How much the tracker remembers.
    package struct Limits: Sendable {
        /// How many ended prompt ids are remembered, to ignore their late events.
        package var rememberEnded = 4096

        package init() {}
    }

    /// What the driver must do.
    package enum Action: Sendable, Equatable {
        case notice(TrackerNotice)
        /// Read the history of the prompt, then call `finish(promptID:entry:)`.
        case readHistory(promptID: String)
    }

    private struct Job {
        let clientID: String
        var finishing = false
        /// Whether its start was reported.
        var started = false
        /// Events that came while the submit was on its way (nil once released).
        var held: [(event: ComfyEvent, text: [UInt8]?)]?
        /// The last terminal message (`execution_success`, `_error` or `_interrupted`) and its data.
        var terminal: (type: String, data: JSONValue)?
        /// The UI outputs `executed` reported, by node id.
        var outputs: [String: JSONValue] = [:]
        var lastActivity: ContinuousClock.Instant
    }

    package let limits: Limits
    private var jobs: [String: Job] = [:]
    /// How many tracked prompts each client id has.
    private var jobsPerClient: [String: Int] = [:]
    private var ended: Set<String> = []
    private var endedOrder = Deque<String>()
    /// The tracked prompt ComfyUI runs now, as far as its events tell.
    package private(set) var runningPromptID: String?
    /// The last queue status ComfyUI sent (without its `sid`).
    package private(set) var lastStatus: JSONValue?

    package init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Forgets the last queue status (the upstream dropped: it may be stale by the time anyone
    /// reads it).
    package mutating func forgetStatus() {
        lastStatus = nil
    }

    /// The prompt ids being tracked (held ones included).
    package var trackedPromptIDs: [String] { Array(jobs.keys) }

    /// The tracked prompts that have been sent (not held): those ComfyUI should know.
    package var sentPromptIDs: [String] { jobs.compactMap { $0.value.held == nil ? $0.key : nil } }

    /// How many prompts are followed.
    package var trackedCount: Int { jobs.count }

    /// True when the prompt ComfyUI runs now is a followed one.
    package var isRunningTracked: Bool { runningPromptID.map { jobs[$0] != nil } ?? false }

    /// How many of `clientID`'s prompts are tracked (queued or running, not ended yet).
    package func trackedCount(of clientID: String) -> Int { jobsPerClient[clientID] ?? 0 }

    /// The client id `promptID` was submitted with, while it is tracked.
    package func clientID(of promptID: String) -> String? { jobs[promptID]?.clientID }

    /// Starts tracking `promptID` for `clientID`. A `held` prompt's events wait until
    /// `release(promptID:)` (its submit is on its way); otherwise they are passed on at once.
    package mutating func track(promptID: String, clientID: String, held: Bool = false, now: ContinuousClock.Instant) {
        guard jobs[promptID] == nil, !ended.contains(promptID) else { return }
        jobs[promptID] = Job(clientID: clientID, held: held ? [] : nil, lastActivity: now)
        jobsPerClient[clientID, default: 0] += 1
    }

    /// Passes on the events a held prompt received so far, in order, and the later ones as they come.
    package mutating func release(promptID: String, now: ContinuousClock.Instant) -> [Action] {
        guard let held = jobs[promptID]?.held else { return [] }
        jobs[promptID]?.held = nil
        var actions: [Action] = []
        for item in held { actions += receive(item.event, text: item.text, now: now) }
        return actions
    }

    /// Forgets a prompt whose submit failed (it never reached the backend's queue), and the
    /// events held for it, without a notice.
    package mutating func untrack(promptID: String) {
        guard let job = jobs.removeValue(forKey: promptID) else { return }
        release(slotOf: job.clientID)
        if runningPromptID == promptID { runningPromptID = nil }
    }

    /// Turns one ComfyUI event into actions.
    /// `text` is ComfyUI's text frame the event was decoded from, forwarded as it is when the
    /// message reaches the client unchanged.
    package mutating func receive(
        _ event: ComfyEvent, text: [UInt8]? = nil, now: ContinuousClock.Instant
    ) -> [Action] {
        switch event {
        case .status(_, _, let data):
            var status = data
            if case .object(var members) = data {
                members["sid"] = nil
                status = .object(members)
            }
            lastStatus = status
            return [.notice(.status(status))]
        case .executionStart(let promptID, _):
            guard track(event, for: promptID, now: now) else { return [] }
            runningPromptID = promptID
            return startNotice(promptID)
        case .executionCached(let promptID, _, _):
            _ = track(event, for: promptID, now: now)
            return []
        case .executing(let promptID?, let node, _, let data):
            guard track(event, text: text, for: promptID, now: now), let job = jobs[promptID], !job.finishing else {
                return []
            }
            let message = TrackerNotice.message(clientID: job.clientID, kind: .executing, data: data, frame: text)
            guard node != nil else {
                jobs[promptID]?.finishing = true
                if runningPromptID == promptID { runningPromptID = nil }
                return [.notice(message), .readHistory(promptID: promptID)]
            }
            runningPromptID = promptID
            return startNotice(promptID) + [.notice(message)]
        case .executing(nil, let node?, let displayNode, _):
            // After a reconnect ComfyUI names the running node without its prompt.
            guard let promptID = runningPromptID, let job = jobs[promptID], !job.finishing else { return [] }
            var data: JSONValue = ["node": .string(node), "prompt_id": .string(promptID)]
            if let displayNode { data = data.setting("display_node", .string(displayNode)) }
            return [.notice(.message(clientID: job.clientID, kind: .executing, data: data, frame: nil))]
        case .executing(nil, nil, _, _):
            return []
        case .progress(let named, _, _, _, let data):
            guard let promptID = named ?? runningPromptID, track(event, text: text, for: promptID, now: now),
                let job = jobs[promptID], !job.finishing
            else { return [] }
            // A progress without its prompt id gets it filled in, and is written again.
            let message: TrackerNotice =
                named != nil
                ? .message(clientID: job.clientID, kind: .progress, data: data, frame: text)
                : .message(
                    clientID: job.clientID, kind: .progress, data: data.setting("prompt_id", .string(promptID)),
                    frame: nil)
            return [.notice(message)]
        case .executed(let promptID, let node, let output, let data):
            guard track(event, text: text, for: promptID, now: now), let job = jobs[promptID], !job.finishing else {
                return []
            }
            if !output.isNull { jobs[promptID]?.outputs[node] = output }
            return [.notice(.message(clientID: job.clientID, kind: .executed, data: data, frame: text))]
        case .executionSuccess(let promptID, let data):
            return terminal("execution_success", promptID: promptID, data: data, event: event, now: now)
        case .executionError(let promptID, _, let data):
            // ComfyUI's "execution blocked" variant does not end the prompt.
            if data["exception_type"]?.stringValue == "ExecutionBlocked" { return [] }
            return terminal("execution_error", promptID: promptID, data: data, event: event, now: now)
        case .executionInterrupted(let promptID, _, _, let data):
            return terminal("execution_interrupted", promptID: promptID, data: data, event: event, now: now)
        case .previewWithMetadata(let metadata, _):
            guard let promptID = metadata["prompt_id"]?.stringValue ?? runningPromptID,
                track(event, for: promptID, now: now), let job = jobs[promptID], !job.finishing,
                let frame = BinaryFrame.encode(event)
            else { return [] }
            return [.notice(.binary(clientID: job.clientID, frame: frame))]
        case .preview, .text, .binary:
            // No prompt id in these: they belong to the prompt running now, if it is one of ours.
            guard let promptID = runningPromptID, let job = jobs[promptID], !job.finishing,
                let frame = BinaryFrame.encode(event)
            else { return [] }
            return [.notice(.binary(clientID: job.clientID, frame: frame))]
        case .progressState, .featureFlags, .other:
            return []
        }
    }

    /// Marks `promptID` as being finished by the caller (a history read after a reconnect);
    /// false when it is not tracked, already being finished, or held.
    package mutating func beginFinishing(_ promptID: String) -> Bool {
        // A held prompt's submit is still on its way: ComfyUI not knowing it yet says nothing.
        guard let job = jobs[promptID], !job.finishing, job.held == nil else { return false }
        jobs[promptID]?.finishing = true
        return true
    }

    /// Notes that ComfyUI still has `promptID` queued or running.
    package mutating func touch(_ promptID: String, now: ContinuousClock.Instant) {
        jobs[promptID]?.lastActivity = now
    }

    /// Ends `promptID` with its history `entry`. Without one (ComfyUI dropped it, or could not
    /// be asked), the end the tracker saw is used; when it saw none, the prompt is lost.
    package mutating func finish(promptID: String, entry: JSONValue?, lostReason: String) -> [Action] {
        guard let job = jobs.removeValue(forKey: promptID) else { return [] }
        release(slotOf: job.clientID)
        remember(promptID)
        if runningPromptID == promptID { runningPromptID = nil }
        if let entry {
            return [.notice(.finished(clientID: job.clientID, promptID: promptID, entry: entry, fromHistory: true))]
        }
        guard let terminal = job.terminal else {
            return [.notice(.lost(clientID: job.clientID, promptID: promptID, reason: lostReason))]
        }
        let success = terminal.type == "execution_success"
        let entry: JSONValue = [
            "outputs": .object(job.outputs),
            "status": [
                "status_str": .string(success ? "success" : "error"), "completed": .bool(success),
                "messages": [[.string(terminal.type), terminal.data]],
            ],
        ]
        return [.notice(.finished(clientID: job.clientID, promptID: promptID, entry: entry, fromHistory: false))]
    }

    /// Ends `promptID`, removed from the queue before it ran, as interrupted.
    package mutating func withdraw(promptID: String, reason: String) -> [Action] {
        guard let job = jobs[promptID], !job.finishing else { return [] }
        jobs[promptID]?.terminal = (
            "execution_interrupted", ["prompt_id": .string(promptID), "reason": .string(reason)]
        )
        return finish(promptID: promptID, entry: nil, lostReason: reason)
    }

    /// Tracked prompts not being finished that have reported nothing for `quiet`. A held prompt
    /// is not one: its submit is still on its way, so ComfyUI may rightly not know it yet.
    package func quietPrompts(for quiet: Duration, now: ContinuousClock.Instant) -> [String] {
        jobs.compactMap { id, job in
            !job.finishing && job.held == nil && now - job.lastActivity >= quiet ? id : nil
        }
    }

    // MARK: Helpers

    private mutating func terminal(
        _ type: String, promptID: String, data: JSONValue, event: ComfyEvent, now: ContinuousClock.Instant
    ) -> [Action] {
        guard track(event, for: promptID, now: now), jobs[promptID]?.finishing == false else { return [] }
        jobs[promptID]?.terminal = (type, data)
        if runningPromptID == promptID { runningPromptID = nil }
        return []
    }

    /// Whether the event's prompt is tracked and released (its activity noted); a held prompt's
    /// event waits for its release.
    private mutating func track(
        _ event: ComfyEvent, text: [UInt8]? = nil, for promptID: String, now: ContinuousClock.Instant
    ) -> Bool {
        guard jobs[promptID] != nil else { return false }
        jobs[promptID]?.lastActivity = now
        if jobs[promptID]?.held != nil {
            jobs[promptID]?.held?.append((event, text))
            return false
        }
        return true
    }

    /// `started`, the first time the prompt is seen running.
    private mutating func startNotice(_ promptID: String) -> [Action] {
        guard let job = jobs[promptID], !job.started else { return [] }
        jobs[promptID]?.started = true
        return [.notice(.started(clientID: job.clientID, promptID: promptID))]
    }

    private mutating func release(slotOf clientID: String) {
        jobsPerClient[clientID, default: 1] -= 1
        if jobsPerClient[clientID] == 0 { jobsPerClient[clientID] = nil }
    }

    private mutating func remember(_ promptID: String) {
        ended.insert(promptID)
        endedOrder.append(promptID)
        if endedOrder.count > limits.rememberEnded, let oldest = endedOrder.popFirst() {
            ended.remove(oldest)
        }
    }
}

extension JSONValue {
    /// This object with `key` set to `value` (other values are returned unchanged).
    fileprivate func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members[key] = value
        return .object(members)
    }
}
