package import Models
package import Reactor

/// The embedded ledger: a SQLite database (WAL mode, `synchronous = NORMAL`: a commit survives
/// the process being killed; a power cut may lose the last commits) on a worker thread of its
/// own, so the event loop never waits on the disk.
///
/// Group commit: the thread takes everything queued since its last batch at once and runs the
/// writes among it in one transaction (each in a savepoint, so one failing write does not undo
/// the others); a write's caller resumes only after that commit. Called on `loop`'s thread, the
/// store wakes its thread once at the end of the loop's turn, so the writes of one turn share a
/// transaction.
/// `@unchecked Sendable`: `wakeScheduled` is touched on the loop's thread only.
package final class SQLiteJobStore: JobStore, @unchecked Sendable {
    private let worker: WorkerThread<LedgerWork>
    private let loop: EventLoop?
    private var wakeScheduled = false

    private init(worker: WorkerThread<LedgerWork>, loop: EventLoop?) {
        self.worker = worker
        self.loop = loop
    }

    /// Opens (creating when missing) the ledger at `location`; throws, naming the file, when it
    /// cannot be opened, is not a ledger, is damaged, is read-only or is in use. Calls made on
    /// `loop`'s thread are batched per turn of it.
    package static func open(_ location: LedgerLocation, loop: EventLoop? = nil) async throws(StoreError)
        -> SQLiteJobStore
    {
        let session = LedgerSession()
        let worker = WorkerThread<LedgerWork>(name: "comfy-ledger") { batch in session.handle(batch) }
        let store = SQLiteJobStore(worker: worker, loop: loop)
        do {
            try await store.perform(isWrite: false) { session throws(StoreError) in
                session.database = try LedgerDatabase(location: location)
            }
        } catch {
            worker.stop()
            throw error
        }
        return store
    }

    package func create(_ job: JobRecord, idempotency: IdempotencyEntry?) async throws(StoreError) {
        try await write { database throws(StoreError) in try database.create(job, idempotency: idempotency) }
    }

    package func apply(_ changes: [JobChange]) async throws(StoreError) {
        guard !changes.isEmpty else { return }
        try await write { database throws(StoreError) in
            for change in changes { try database.apply(change) }
        }
    }

    package func job(id: String) async throws(StoreError) -> JobRecord? {
        try await read { database throws(StoreError) in try database.job(id: id) }
    }

    package func jobs(matching query: JobQuery) async throws(StoreError) -> JobPage {
        try await read { database throws(StoreError) in try database.jobs(matching: query) }
    }

    package func unfinishedJobs() async throws(StoreError) -> [JobRecord] {
        try await read { database throws(StoreError) in try database.unfinishedJobs() }
    }

    package func idempotencyEntry(key: String) async throws(StoreError) -> IdempotencyEntry? {
        try await read { database throws(StoreError) in try database.idempotencyEntry(key: key) }
    }

    package func events(of id: String) async throws(StoreError) -> [JobEvent] {
        try await read { database throws(StoreError) in try database.events(of: id) }
    }

    package func prune(finishedBefore: Int64, keysBefore: Int64) async throws(StoreError) -> Int {
        try await write { database throws(StoreError) in
            try database.prune(finishedBefore: finishedBefore, keysBefore: keysBefore)
        }
    }

    package func close() async {
        try? await perform(isWrite: false, isBarrier: true) { session throws(StoreError) in
            session.database?.close()
            session.database = nil
        }
        worker.stop()
    }

    // MARK: Work

    private func read<T: Sendable>(
        _ body: @escaping @Sendable (LedgerDatabase) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await perform(isWrite: false) { session throws(StoreError) in try body(try session.open()) }
    }

    private func write<T: Sendable>(
        _ body: @escaping @Sendable (LedgerDatabase) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await perform(isWrite: true) { session throws(StoreError) in try body(try session.open()) }
    }

    private func perform<T: Sendable>(
        isWrite: Bool, isBarrier: Bool = false, _ body: @escaping @Sendable (LedgerSession) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<T, StoreError>, Never>) in
            let work = LedgerWork(
                isWrite: isWrite, isBarrier: isBarrier,
                perform: { session throws(StoreError) in
                    let value = try body(session)
                    return { continuation.resume(returning: .success(value)) }
                },
                fail: { continuation.resume(returning: .failure($0)) })
            if !submit(work) {
                continuation.resume(returning: .failure(StoreError(.closed, "the job ledger is closed")))
            }
        }
        return try result.get()
    }
}

extension SQLiteJobStore {
    /// Queues `work`: on the loop's thread the worker is woken once, at the end of the turn;
    /// elsewhere at once.
    fileprivate func submit(_ work: LedgerWork) -> Bool {
        guard let loop, loop.inLoop else { return worker.submit(work) }
        guard worker.submit(work, wake: false) else { return false }
        if !wakeScheduled {
            wakeScheduled = true
            loop.atEndOfTurn { [self] in
                wakeScheduled = false
                worker.wake()
            }
        }
        return true
    }
}

/// One operation for the store's thread: what it does there, and how its caller hears of a
/// failure. `perform` returns how to report success, called once the batch's writes commit.
struct LedgerWork: Sendable {
    let isWrite: Bool
    /// Runs alone, after everything queued before it has committed (closing the database).
    var isBarrier = false
    let perform: @Sendable (LedgerSession) throws(StoreError) -> @Sendable () -> Void
    let fail: @Sendable (StoreError) -> Void
}

/// The store thread's state: the open database, and how it runs a batch.
/// `@unchecked Sendable`: created by the store, then touched only on its worker thread.
final class LedgerSession: @unchecked Sendable {
    var database: LedgerDatabase?

    func open() throws(StoreError) -> LedgerDatabase {
        guard let database else { throw StoreError(.closed, "the job ledger is closed") }
        return database
    }

    /// Runs a batch in order, split at each barrier (the store's close): the part before a
    /// barrier commits before the barrier runs.
    func handle(_ batch: [LedgerWork]) {
        var start = 0
        for index in batch.indices where batch[index].isBarrier {
            handlePart(batch[start..<index])
            do { try batch[index].perform(self)() } catch { batch[index].fail(error) }
            start = index + 1
        }
        handlePart(batch[start...])
    }

    /// Runs writes in one transaction, each in a savepoint, and reads inside it (they see the
    /// writes before them). Nothing is reported until the commit: writes fail together when it
    /// fails; reads are answered after it either way.
    private func handlePart(_ part: ArraySlice<LedgerWork>) {
        guard !part.isEmpty else { return }
        guard part.contains(where: \.isWrite), let writes = database else {
            for work in part {
                do { try work.perform(self)() } catch { work.fail(error) }
            }
            return
        }
        do {
            try writes.begin()
        } catch {
            for work in part where work.isWrite { work.fail(error) }
            for work in part where !work.isWrite {
                do { try work.perform(self)() } catch { work.fail(error) }
            }
            return
        }
        var written: [(LedgerWork, @Sendable () -> Void)] = []
        var read: [@Sendable () -> Void] = []
        for work in part {
            guard work.isWrite else {
                do { read.append(try work.perform(self)) } catch { work.fail(error) }
                continue
            }
            do {
                try writes.savepoint()
                let succeed = try work.perform(self)
                try writes.release()
                written.append((work, succeed))
            } catch {
                writes.rollbackToSavepoint()
                work.fail(error)
            }
        }
        do {
            try writes.commit()
            for (_, succeed) in written { succeed() }
        } catch {
            writes.rollback()
            for (work, _) in written { work.fail(error) }
        }
        for answer in read { answer() }
    }
}
