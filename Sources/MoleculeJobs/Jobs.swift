// MoleculeJobs (L3): the gateway's jobs as its ledger keeps them, over a `JobStore` (which
// database, this molecule does not know). Never imports another molecule.

package import Codecs
package import Core
import Glibc
package import Logging
package import Models
package import Reactor
package import Store

/// The gateway's jobs, ledger-backed: admitting a submit (its record written before anything
/// is queued; idempotency keys), recording what happens to it, reading jobs back, and pruning
/// the ended ones after their retention. Loop-bound.
///
/// What happens to a job is recorded without making anyone wait: changes queue here and go to
/// the store together (group commit), in order; `progress` keeps only the latest value per node,
/// written at most every `progressIntervalMilliseconds`.
/// `@unchecked Sendable`: a `Sendable` route holds it; only tasks on the loop touch it.
package final class Jobs: @unchecked Sendable {
    /// How a submit is admitted.
    package enum Admission: Sendable, Equatable {
        /// A new job, recorded: send it on.
        case new
        /// The idempotency key was used with this body before: answer `answer` again.
        case replay(answer: JSONValue)
    }

    /// The backend every job goes to until there are several.
    package static let defaultBackend = "b0"
    /// How long an idempotency key is remembered.
    package static let idempotencyWindow: Int64 = 24 * 3600 * 1000

    package let store: any JobStore
    private let loop: EventLoop
    private let logger: Logger
    /// How long ended jobs are kept, in milliseconds.
    private let retention: Int64
    /// What time it is, in milliseconds since the epoch (a test clock replaces it).
    private let clock: @Sendable () -> Int64
    /// How often the latest progress values are written.
    package var progressIntervalMilliseconds: UInt64 = 250
    private var pending: [JobChange] = []
    private var progress: [ProgressKey: JobChange] = [:]
    private var flushing = false
    private var flushed: [CheckedContinuation<Void, Never>] = []
    /// Idempotency keys whose first submit is still on its way.
    private var keysInFlight: Set<String> = []
    private var pruning: Task<Void, Never>?

    private struct ProgressKey: Hashable {
        let id: String
        let node: String
    }

    package init(
        store: any JobStore, loop: EventLoop, logger: Logger, retentionHours: Int,
        clock: @escaping @Sendable () -> Int64 = Jobs.wallClock
    ) {
        self.store = store
        self.loop = loop
        self.logger = logger
        retention = Int64(retentionHours) * 3600 * 1000
        self.clock = clock
    }

    /// Milliseconds since the Unix epoch, from the system clock.
    @Sendable package static func wallClock() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Now, as the ledger writes it.
    package var now: Int64 { clock() }

    // MARK: Admission

    /// Records `job` before it is sent anywhere. With an idempotency key (`key`, and the digest
    /// of the request's body): the key's first request within 24 h is answered again
    /// (`.replay`), another body is 409 `IDEMPOTENCY_CONFLICT`. A ledger that cannot record the
    /// job is 503 `SERVICE_UNAVAILABLE`, and nothing is sent.
    package func admit(_ job: JobRecord, key: String?, requestHash: String) async throws(GatewayError) -> Admission {
        guard let key else {
            try await create(job, idempotency: nil)
            return .new
        }
        guard !keysInFlight.contains(key) else {
            throw GatewayError(
                .idempotencyConflict,
                message:
                    "A request with Idempotency-Key '\(key)' is still being processed; retry when it has been answered.",
                details: ["idempotency_key": .string(key)])
        }
        // The key stays in flight until its job is accepted, discarded or left to reconcile
        // (`accepted`, `discard`, `settled`), so a retry meanwhile is a conflict, not a replay
        // of an answer that does not exist yet.
        keysInFlight.insert(key)
        var admitted = false
        defer { if !admitted { keysInFlight.remove(key) } }
        let entry: IdempotencyEntry?
        do {
            entry = try await store.idempotencyEntry(key: key)
        } catch {
            throw Self.unavailable(error)
        }
        if let entry, entry.createdAt >= clock() - Self.idempotencyWindow {
            guard entry.requestHash == requestHash else {
                throw GatewayError(
                    .idempotencyConflict,
                    message:
                        "Idempotency-Key '\(key)' was used with a different request body within the last 24 hours.",
                    details: ["idempotency_key": .string(key), "prompt_id": .string(entry.jobID)])
            }
            if let answer = entry.answer { return .replay(answer: answer) }
            // The first request was recorded but not answered (the gateway stopped in between).
            let record = try? await store.job(id: entry.jobID)
            return .replay(answer: [
                "prompt_id": .string(entry.jobID), "number": record?.number.jsonValue ?? .null,
                "client_id": record.map { .string($0.clientID) } ?? .null, "status": "queued",
            ])
        }
        try await create(
            job, idempotency: IdempotencyEntry(key: key, requestHash: requestHash, jobID: job.id, createdAt: clock()))
        admitted = true
        return .new
    }

    private func create(_ job: JobRecord, idempotency: IdempotencyEntry?) async throws(GatewayError) {
        do {
            try await store.create(job, idempotency: idempotency)
        } catch {
            logger.error("cannot record a job in the ledger: \(error)")
            throw Self.unavailable(error)
        }
    }

    static func unavailable(_ error: StoreError) -> GatewayError {
        GatewayError(
            .serviceUnavailable,
            message: "The job ledger cannot record the job, so it was not queued: \(error.message)",
            details: ["reason": .string(error.message), "retry_after": 5])
    }

    /// The backend accepted the job: its queue number, and the answer a replay of its
    /// idempotency key gets.
    package func accepted(_ id: String, number: Int, key: String?, answer: JSONValue) {
        enqueue(.accepted(id: id, number: number))
        if let key { enqueue(.answer(key: key, answer: answer)) }
        settled(key: key)
    }

    /// The backend refused the job: it was never a job, so it is forgotten (with its key).
    package func discard(_ id: String, key: String?) {
        enqueue(.discarded(id: id))
        settled(key: key)
    }

    /// The admission of the job with idempotency key `key` is over (accepted, discarded, or left
    /// for the reconcile to settle after a timeout): a retry with the key is answered from the
    /// ledger from now on.
    package func settled(key: String?) {
        if let key { keysInFlight.remove(key) }
    }

    // MARK: Recording

    /// The job started running.
    package func started(_ id: String) {
        let at = clock()
        enqueue(.started(id: id, at: at))
        enqueue(.event(id: id, type: "status", data: ["status": "running"], at: at))
    }

    /// One message of the job's log (`executing`, `executed`, ...), with its WebSocket `data`.
    package func event(_ id: String, type: String, data: JSONValue) {
        enqueue(.event(id: id, type: type, data: data, at: clock()))
    }

    /// The latest `progress` of `node`.
    package func progress(_ id: String, node: String, data: JSONValue) {
        progress[ProgressKey(id: id, node: node)] = .progress(id: id, node: node, data: data, at: clock())
        scheduleFlush()
    }

    /// The job ended: its status, outputs and error object, and its terminal message (the
    /// WebSocket's `result` or `execution_error`) for the log.
    package func finished(
        _ id: String, status: JobStatus, outputs: JSONValue, error: JSONValue, terminal: (type: String, data: JSONValue)
    ) {
        let at = clock()
        enqueue(.event(id: id, type: terminal.type, data: terminal.data, at: at))
        enqueue(.finished(id: id, status: status, outputs: outputs, error: error, at: at))
    }

    /// Waits until every change recorded so far is in the store.
    package func flush() async {
        guard flushing || !pending.isEmpty || !progress.isEmpty else { return }
        scheduleFlush()
        await withCheckedContinuation { flushed.append($0) }
    }

    private func enqueue(_ change: JobChange) {
        pending.append(change)
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard !flushing else { return }
        flushing = true
        Task(executorPreference: loop) { [self] in
            while true {
                if pending.isEmpty && !progress.isEmpty && flushed.isEmpty {
                    // A loop timer: this task must resume on the loop that owns these queues.
                    await loop.sleep(milliseconds: progressIntervalMilliseconds)
                }
                let batch = pending + progress.values
                pending.removeAll(keepingCapacity: true)
                progress.removeAll(keepingCapacity: true)
                if batch.isEmpty { break }
                do {
                    try await store.apply(batch)
                } catch {
                    logger.error("cannot record \(batch.count) job changes in the ledger: \(error)")
                }
            }
            flushing = false
            let waiters = flushed
            flushed.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    // MARK: Reading

    /// The job `id`, or nil when the ledger has none. A ledger that cannot be read is 503.
    package func job(_ id: String) async throws(GatewayError) -> JobRecord? {
        do {
            return try await store.job(id: id)
        } catch {
            throw Self.readFailed(error)
        }
    }

    /// A page of jobs, newest first.
    package func list(_ query: JobQuery) async throws(GatewayError) -> JobPage {
        do {
            return try await store.jobs(matching: query)
        } catch {
            throw Self.readFailed(error)
        }
    }

    /// Every job that has not ended (to be reconciled with its backend at start).
    package func unfinished() async throws(StoreError) -> [JobRecord] {
        try await store.unfinishedJobs()
    }

    static func readFailed(_ error: StoreError) -> GatewayError {
        GatewayError(
            .serviceUnavailable, message: "The job ledger cannot be read: \(error.message)",
            details: ["reason": .string(error.message), "retry_after": 5])
    }

    // MARK: Retention

    /// Prunes now, then every `interval`, until `close()`.
    package func startPruning(every interval: Duration = .seconds(3600)) {
        pruning = Task(executorPreference: loop) { [self] in
            while !Task.isCancelled {
                await prune()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Deletes the jobs that ended more than the retention ago, and idempotency keys older than
    /// 24 h; returns how many jobs went.
    @discardableResult
    package func prune() async -> Int {
        let now = clock()
        do {
            let pruned = try await store.prune(
                finishedBefore: now - retention, keysBefore: now - Self.idempotencyWindow)
            if pruned > 0 { logger.info("pruned \(pruned) ended jobs from the ledger") }
            return pruned
        } catch {
            logger.error("cannot prune the ledger: \(error)")
            return 0
        }
    }

    /// Writes what is queued, stops pruning and closes the store.
    package func close() async {
        pruning?.cancel()
        pruning = nil
        await flush()
        await store.close()
    }
}

extension Jobs {
    /// Opens the ledger `ledgerURL` names (`LEDGER_URL`). A ledger that cannot be used (not a
    /// ledger, damaged, read-only, in use, written by a newer gateway) is a configuration error,
    /// naming the file: the gateway must not start over it, nor beside it with a fresh one.
    package static func open(
        ledgerURL: String, loop: EventLoop, logger: Logger, retentionHours: Int
    ) async throws(ConfigurationError) -> Jobs {
        guard let location = LedgerLocation(url: ledgerURL) else {
            throw ConfigurationError("LEDGER_URL must be sqlite:<path>, sqlite::memory: or none, got '\(ledgerURL)'")
        }
        let store: any JobStore
        do {
            store = location == .none ? NullJobStore() : try await SQLiteJobStore.open(location, loop: loop)
        } catch {
            throw ConfigurationError(error.message)
        }
        return Jobs(store: store, loop: loop, logger: logger, retentionHours: retentionHours)
    }
}
