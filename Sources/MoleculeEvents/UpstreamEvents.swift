// MoleculeEvents (L3): the job tracker over the gateway's one upstream socket, composed from
// AtomComfySocket (the socket) and AtomComfyHTTP (queue and history reads). Never imports
// another molecule; the coordinators compose molecules.

package import AtomComfyHTTP
package import AtomComfySocket
package import Codecs
package import Logging
import Models
package import Reactor

/// The gateway's view of ComfyUI's events: one upstream WebSocket (as `upstreamClientID`, the
/// id every prompt is submitted with), fed to a `JobTracker`, whose notices go to `onNotice` in
/// order, on the loop.
///
/// A prompt's end is never missed: after its `executing` null the history is read; after a
/// reconnect (and for any prompt quiet for `quietCheckAfter`) ComfyUI's queue is read, then the
/// history of every tracked prompt no longer in it, and the end is reported from there; a
/// prompt ComfyUI no longer knows at all is reported lost. Loop-bound.
/// `@unchecked Sendable`: a `Sendable` route holds it; only tasks on the loop touch it.
package final class UpstreamEvents: @unchecked Sendable {
    /// Receives every notice, in order, on the loop.
    package var onNotice: ((TrackerNotice) -> Void)?
    /// Called on the loop when the upstream socket connects (true) or drops (false).
    package var onConnectionChange: ((Bool) -> Void)?
    /// How long a tracked prompt may report nothing before ComfyUI is asked about it.
    package var quietCheckAfter: Duration = .seconds(10)
    /// How often quiet prompts are looked for.
    package var watchInterval: Duration = .seconds(5)
    private var tracker: JobTracker
    private let socket: ComfySocket
    private let api: ComfyAPI
    private let logger: Logger
    private var upstreamUp: Bool?
    private var watch: Task<Void, Never>?
    private var reconciling = false
    /// How long a barrier waits for ComfyUI's pong before the check goes on without it.
    package var barrierTimeout: Duration = .seconds(10)
    private var barrierWaiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    private var lastBarrier: UInt64 = 0
    /// Submits on their way to ComfyUI, by client id: counted against the cap with the tracked
    /// prompts, so simultaneous submits cannot all pass it.
    private var submitting: [String: Int] = [:]
    private var stopping = false

    package init(socket: ComfySocket, api: ComfyAPI, logger: Logger, limits: JobTracker.Limits = JobTracker.Limits()) {
        self.socket = socket
        self.api = api
        self.logger = logger
        tracker = JobTracker(limits: limits)
    }

    /// Whether the upstream socket is connected now.
    package var isUpstreamConnected: Bool { upstreamUp == true }

    /// Followed prompts: how many are queued, and how many run (0 or 1).
    package var followedPrompts: (pending: Int, running: Int) {
        let running = tracker.isRunningTracked ? 1 : 0
        return (tracker.trackedCount - running, running)
    }

    /// The last queue status ComfyUI sent on the current connection; nil while disconnected.
    package var lastStatus: JSONValue? { tracker.lastStatus }

    /// Follows `promptID` for `clientID`: its events go to `clientID` from now on. A `held`
    /// prompt (its submit is on its way) keeps its events until `release(promptID:)`.
    package func track(promptID: String, clientID: String, held: Bool = false) {
        tracker.track(promptID: promptID, clientID: clientID, held: held, now: .now)
    }

    /// Passes on what a held prompt received while its submit was on its way, and the rest as
    /// it comes.
    package func release(promptID: String) {
        perform(tracker.release(promptID: promptID, now: .now))
    }

    /// Stops following a prompt whose submit failed, without a notice.
    package func untrack(promptID: String) {
        tracker.untrack(promptID: promptID)
    }

    /// Reserves a place for one more unfinished prompt of `clientID`, or returns false when it
    /// has `limit` already (tracked or on their way). Give the place back with `release(for:)`
    /// once the prompt is tracked or its submit failed.
    package func reserve(for clientID: String, limit: Int) -> Bool {
        guard tracker.trackedCount(of: clientID) + submitting[clientID, default: 0] < limit else { return false }
        submitting[clientID, default: 0] += 1
        return true
    }

    /// Gives back a place taken by `reserve(for:limit:)`.
    package func release(for clientID: String) {
        submitting[clientID, default: 1] -= 1
        if submitting[clientID] == 0 { submitting[clientID] = nil }
    }

    /// Ends `promptID`, which the gateway removed from ComfyUI's queue, as interrupted (`reason`
    /// says how); ComfyUI itself reports nothing for removed prompts.
    package func withdraw(promptID: String, reason: String) {
        perform(tracker.withdraw(promptID: promptID, reason: reason))
    }

    /// Connects and follows ComfyUI until `stop()`.
    package func start() {
        let socket = socket
        let loop = api.loop
        // Both end after `socket.stop()`.
        Task(executorPreference: loop) { await socket.run() }
        Task(executorPreference: loop) { [self] in await socket.forEachEvent { handle($0) } }
        watch = Task(executorPreference: loop) { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: watchInterval)
                guard !Task.isCancelled else { break }
                checkQuietPrompts()
            }
        }
    }

    /// Cuts the wait before the next connection attempt short (ComfyUI answered a probe, so it
    /// is back): the socket reconnects now instead of at the end of its backoff.
    package func reconnectNow() {
        socket.reconnectNow()
    }

    /// Closes the upstream socket and connections. Call on the loop.
    package func stop() {
        stopping = true
        socket.stop()
        watch?.cancel()
        watch = nil
    }

    private func handle(_ event: ComfySocket.Event) {
        switch event {
        case .connected(let clientID):
            logger.info("Connected to ComfyUI's WebSocket", metadata: ["client_id": "\(clientID)"])
            // Sockets greeted while the upstream was not connected yet hear it too.
            let wasDown = upstreamUp != true
            upstreamUp = true
            if wasDown {
                // ComfyUI may be back as another version: ask again which routes it has.
                api.forgetJobRoutes()
                onConnectionChange?(true)
                onNotice?(.upstreamReconnected)
                reconcile(tracker.sentPromptIDs)
            }
        case .connectFailed(let reason, let retryIn):
            logger.debug(
                "ComfyUI's WebSocket did not connect", metadata: ["reason": "\(reason)", "retry_in": "\(retryIn)"])
            upstreamDown(reason: reason)
        case .disconnected(_, let reason):
            guard !stopping else { return }
            logger.warning("ComfyUI's WebSocket dropped", metadata: ["reason": "\(reason)"])
            upstreamDown(reason: reason)
        case .message(let message, let text):
            perform(tracker.receive(message, text: text, now: .now))
        case .barrier(let token):
            resolveBarrier(token, passed: true)
        }
    }

    private func upstreamDown(reason: String) {
        for token in barrierWaiters.keys { resolveBarrier(token, passed: false) }
        guard upstreamUp != false else { return }
        upstreamUp = false
        tracker.forgetStatus()
        onConnectionChange?(false)
        onNotice?(.upstreamDisconnected(reason: reason))
    }

    private func perform(_ actions: [JobTracker.Action]) {
        for action in actions {
            switch action {
            case .notice(let notice): onNotice?(notice)
            case .readHistory(let promptID):
                Task(executorPreference: api.loop) { [self] in await readHistory(of: promptID) }
            }
        }
    }

    /// Ends a prompt that reported its `executing` null: from its history, or, if ComfyUI has
    /// none or cannot be asked, from what the tracker saw.
    private func readHistory(of promptID: String) async {
        let entry = try? await api.history(promptID: promptID)
        // Stopping closed the connections: no answer says nothing about the prompt, which the
        // next start follows again.
        guard !stopping else { return }
        perform(
            tracker.finish(
                promptID: promptID, entry: entry ?? nil,
                lostReason: "ComfyUI reported prompt '\(promptID)' done but has no history of it."))
    }

    private func checkQuietPrompts() {
        // Events still waiting to be handled are news from prompts that only look quiet: ending
        // those from their history now would drop the events (a burst of large messages can keep
        // the tracker seconds behind the socket).
        guard upstreamUp == true, !reconciling, socket.events.waitingBytes == 0 else { return }
        let quiet = tracker.quietPrompts(for: quietCheckAfter, now: .now)
        if !quiet.isEmpty { reconcile(quiet) }
    }

    /// Reads the queue, then the history of each of `promptIDs` not in it, and ends those, once
    /// every event ComfyUI sent before their histories were read has been handled: a loop that
    /// runs seconds behind the socket (a burst of large results) must not end a prompt ahead of
    /// its own `executed` messages, which would then be dropped.
    private func reconcile(_ promptIDs: [String]) {
        guard !promptIDs.isEmpty else { return }
        reconciling = true
        Task(executorPreference: api.loop) { [self] in
            defer { reconciling = false }
            let ended: [(promptID: String, entry: JSONValue?)]
            if (try? await api.hasJobRoutes()) == true {
                ended = await endedByJobRoutes(promptIDs)
            } else {
                guard let fromQueue = await endedByQueue(promptIDs) else { return }
                ended = fromQueue
            }
            guard !ended.isEmpty, !stopping else { return }
            _ = await passBarrier()
            guard !stopping else { return }
            for (promptID, entry) in ended where tracker.beginFinishing(promptID) {
                perform(tracker.finish(promptID: promptID, entry: entry, lostReason: Self.lostReason(promptID)))
            }
        }
    }

    /// Which of `promptIDs` have ended, by one queue read and a history read for each prompt not
    /// in it (nil entry: ComfyUI has no history); nil when the queue cannot be read.
    private func endedByQueue(_ promptIDs: [String]) async -> [(promptID: String, entry: JSONValue?)]? {
        guard let queue = try? await api.queue() else { return nil }
        let alive = Set(queue.running.map(\.promptID) + queue.pending.map(\.promptID))
        var ended: [(promptID: String, entry: JSONValue?)] = []
        for promptID in promptIDs {
            if alive.contains(promptID) {
                tracker.touch(promptID, now: .now)
                continue
            }
            do {
                ended.append((promptID, try await api.history(promptID: promptID)))
            } catch {
                continue
            }
        }
        return ended
    }

    /// Which of `promptIDs` have ended, by ComfyUI's job route for each (no queue read: a queue
    /// of huge workflows costs nothing), then the history of those that ended.
    private func endedByJobRoutes(_ promptIDs: [String]) async -> [(promptID: String, entry: JSONValue?)] {
        var ended: [(promptID: String, entry: JSONValue?)] = []
        for promptID in promptIDs {
            do {
                guard let job = try await api.job(promptID) else {
                    ended.append((promptID, nil))
                    continue
                }
                let status = job["status"]?.stringValue
                if status == "pending" || status == "in_progress" {
                    tracker.touch(promptID, now: .now)
                    continue
                }
                ended.append((promptID, try await api.history(promptID: promptID)))
            } catch {
                continue
            }
        }
        return ended
    }

    /// Waits until every event ComfyUI sent before now has been handled: a ping through the
    /// upstream socket, whose pong comes back behind them. False when the socket is down, drops,
    /// or no pong comes within `barrierTimeout`.
    private func passBarrier() async -> Bool {
        guard upstreamUp == true else { return false }
        lastBarrier &+= 1
        let token = lastBarrier
        let timer = LoopTimer(loop: api.loop)
        defer { timer.close() }
        return await withCheckedContinuation { continuation in
            barrierWaiters[token] = continuation
            timer.start(after: barrierTimeout) { [weak self] in self?.resolveBarrier(token, passed: false) }
            Task(executorPreference: api.loop) { [self] in
                if await !socket.requestBarrier(token) { resolveBarrier(token, passed: false) }
            }
        }
    }

    private func resolveBarrier(_ token: UInt64, passed: Bool) {
        barrierWaiters.removeValue(forKey: token)?.resume(returning: passed)
    }

    static func lostReason(_ promptID: String) -> String {
        "ComfyUI no longer knows prompt '\(promptID)': it is not queued, not running and has no history, "
            + "so it will never finish. ComfyUI was probably restarted, or the prompt was deleted from its queue."
    }
}

extension UpstreamEvents {
    /// The tracker for the backend: the backend's upstream socket (as `upstreamClientID`), and
    /// its JSON connections for queue and history reads.
    package convenience init(backend: ComfyBackend, upstreamClientID: String, loop: EventLoop, logger: Logger) {
        var socketConfiguration = ComfySocket.Configuration(host: backend.host, port: backend.port)
        socketConfiguration.path = backend.pathPrefix + "/ws"
        socketConfiguration.clientID = upstreamClientID
        self.init(
            socket: ComfySocket(loop: loop, configuration: socketConfiguration), api: backend.json, logger: logger)
    }
}
