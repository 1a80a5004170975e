import Codecs
import Foundation
import Models
import Reactor
import Store
import Testing

/// The SQLite ledger through real files: what is written is read back (also after the file is
/// opened again), paging and filters, the event log, one end per job, pruning, and the files it
/// must refuse (not a ledger, from a newer gateway, in use, unwritable).
struct LedgerStoreTests {
    static func scratch() -> String {
        NSTemporaryDirectory() + "ledger-tests-\(UUID())"
    }

    static func job(_ index: Int, client: String = "c", status: JobStatus = .pending) -> JobRecord {
        JobRecord(
            id: "00000000-0000-4000-8000-\(String(format: "%012d", index))", clientID: client, backend: "b0",
            status: status, createdAt: 1_000_000 + Int64(index), workflow: ["1": ["class_type": "X", "inputs": [:]]],
            extraData: ["gateway_client_id": .string(client)])
    }

    static func open(_ path: String) async throws -> SQLiteJobStore {
        try await SQLiteJobStore.open(.sqliteFile(path: path))
    }

    @Test func aJobIsReadBackWithItsWorkflowAlsoAfterReopening() async throws {
        let folder = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/nested/jobs.db"
        let store = try await Self.open(path)
        var job = Self.job(1)
        try await store.create(job, idempotency: nil)
        try await store.apply([.accepted(id: job.id, number: 7), .started(id: job.id, at: 2_000_000)])
        job.number = 7
        job.status = .running
        job.startedAt = 2_000_000
        #expect(try await store.job(id: job.id) == job)
        await store.close()

        let reopened = try await Self.open(path)
        #expect(try await reopened.job(id: job.id) == job)
        #expect(try await reopened.job(id: "unknown") == nil)
        await reopened.close()
    }

    @Test func pagesAreNewestFirstWithCursorsAndFilters() async throws {
        let store = try await SQLiteJobStore.open(.sqliteMemory)
        for index in 1...25 {
            try await store.create(Self.job(index, client: index % 2 == 0 ? "even" : "odd"), idempotency: nil)
        }
        try await store.apply([
            .finished(id: Self.job(3).id, status: .success, outputs: [:], error: .null, at: 5)
        ])
        var seen: [String] = []
        var cursor: JobCursor?
        repeat {
            let page = try await store.jobs(matching: JobQuery(limit: 10, cursor: cursor))
            #expect(page.jobs.count <= 10)
            seen += page.jobs.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen == (1...25).reversed().map { Self.job($0).id })
        let even = try await store.jobs(matching: JobQuery(clientID: "even", limit: 500))
        #expect(even.jobs.count == 12)
        #expect(even.nextCursor == nil)
        let done = try await store.jobs(matching: JobQuery(statuses: [.success, .error], limit: 50))
        #expect(done.jobs.map(\.id) == [Self.job(3).id])
        #expect(try await store.unfinishedJobs().count == 24)
        await store.close()
    }

    @Test func theEventLogKeepsOrderAndOnlyTheLatestProgressPerNode() async throws {
        let store = try await SQLiteJobStore.open(.sqliteMemory)
        let id = Self.job(1).id
        try await store.create(Self.job(1), idempotency: nil)
        try await store.apply([
            .event(id: id, type: "executing", data: ["node": "1"], at: 1),
            .progress(id: id, node: "2", data: ["value": 1], at: 2),
            .progress(id: id, node: "2", data: ["value": 2], at: 3),
            .event(id: id, type: "executed", data: ["node": "2"], at: 4),
        ])
        let events = try await store.events(of: id)
        #expect(events.map(\.type) == ["executing", "executed", "progress"])
        #expect(events.map(\.sequence) == [1, 2, 0])
        #expect(events.last?.data["value"] == 2)
        await store.close()
    }

    @Test func onlyTheFirstEndOfAJobCounts() async throws {
        let store = try await SQLiteJobStore.open(.sqliteMemory)
        let id = Self.job(1).id
        try await store.create(Self.job(1), idempotency: nil)
        try await store.apply([
            .finished(id: id, status: .interrupted, outputs: [:], error: .null, at: 10),
            .finished(id: id, status: .lost, outputs: [:], error: ["code": "X"], at: 20),
            .started(id: id, at: 30),
        ])
        let job = try await store.job(id: id)
        #expect(job?.status == .interrupted)
        #expect(job?.finishedAt == 10)
        #expect(job?.startedAt == nil)
        await store.close()
    }

    @Test func aDuplicateIDFailsAloneAndTheRestOfTheBatchCommits() async throws {
        let store = try await SQLiteJobStore.open(.sqliteMemory)
        try await store.create(Self.job(1), idempotency: nil)
        // Queued together, so they go to the store's thread in one batch more often than not.
        let duplicate = Task { try await store.create(Self.job(1), idempotency: nil) }
        let other = Task { try await store.create(Self.job(2), idempotency: nil) }
        await #expect(throws: StoreError.self) { try await duplicate.value }
        try await other.value
        #expect(try await store.job(id: Self.job(2).id) != nil)
        await store.close()
    }

    @Test func everyWriteReportedDoneBeforeCloseIsInTheFileAfterIt() async throws {
        let folder = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/jobs.db"
        let store = try await Self.open(path)
        // Writes and the close queued together, so they often share a batch: the close must wait
        // for the writes before it to commit.
        let writes = (1...20).map { index in
            Task { () -> Bool in (try? await store.create(Self.job(index), idempotency: nil)) != nil }
        }
        await store.close()
        var done: [Int] = []
        for (offset, write) in writes.enumerated() where await write.value { done.append(offset + 1) }
        let reopened = try await Self.open(path)
        for index in done { #expect(try await reopened.job(id: Self.job(index).id) != nil, "job \(index)") }
        await reopened.close()
    }

    @Test func idempotencyKeysAreKeptWithTheirAnswerAndDiscardedWithTheirJob() async throws {
        let store = try await SQLiteJobStore.open(.sqliteMemory)
        let entry = IdempotencyEntry(key: "k", requestHash: "h", jobID: Self.job(1).id, createdAt: 100)
        try await store.create(Self.job(1), idempotency: entry)
        // Not answered yet: no answer, not JSON's null.
        #expect(try await store.idempotencyEntry(key: "k")?.answer == nil)
        try await store.apply([.answer(key: "k", answer: ["prompt_id": "x"])])
        var expected = entry
        expected.answer = ["prompt_id": "x"]
        #expect(try await store.idempotencyEntry(key: "k") == expected)
        try await store.apply([.discarded(id: Self.job(1).id)])
        #expect(try await store.idempotencyEntry(key: "k") == nil)
        #expect(try await store.job(id: Self.job(1).id) == nil)
        await store.close()
    }

    @Test func pruningRemovesOnlyJobsThatEndedBeforeTheCutoff() async throws {
        let store = try await SQLiteJobStore.open(.sqliteMemory)
        for index in 1...3 { try await store.create(Self.job(index), idempotency: nil) }
        try await store.create(
            Self.job(4),
            idempotency: IdempotencyEntry(key: "old", requestHash: "h", jobID: Self.job(4).id, createdAt: 1))
        try await store.apply([
            .finished(id: Self.job(1).id, status: .success, outputs: [:], error: .null, at: 100),
            .event(id: Self.job(1).id, type: "result", data: [:], at: 100),
            .finished(id: Self.job(2).id, status: .error, outputs: [:], error: .null, at: 300),
        ])
        #expect(try await store.prune(finishedBefore: 200, keysBefore: 50) == 1)
        #expect(try await store.job(id: Self.job(1).id) == nil)
        #expect(try await store.events(of: Self.job(1).id).isEmpty)
        #expect(try await store.job(id: Self.job(2).id) != nil)
        #expect(try await store.job(id: Self.job(3).id) != nil)
        #expect(try await store.idempotencyEntry(key: "old") == nil)
        await store.close()
    }

    @Test func aFileThatIsNotALedgerIsRefusedAndLeftAsItWas() async throws {
        let folder = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/jobs.db"
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: StoreError.self) { try await Self.open(path) }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.contains(path) == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }

    @Test func aLedgerFromANewerGatewayIsRefused() async throws {
        let folder = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/jobs.db"
        await (try await Self.open(path)).close()
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA user_version = 99")
        connection.close()
        let error = await #expect(throws: StoreError.self) { try await Self.open(path) }
        #expect(error?.kind == .newerSchema)
    }

    @Test func aSecondStoreOnTheSameFileIsRefusedWhileTheFirstIsOpen() async throws {
        let folder = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/jobs.db"
        let first = try await Self.open(path)
        let error = await #expect(throws: StoreError.self) { try await Self.open(path) }
        #expect(error?.kind == .cannotOpen)
        #expect(error?.message.contains("in use") == true)
        await first.close()
        await (try await Self.open(path)).close()
    }

    @Test(.enabled(if: getuid() != 0, "root writes through any permission"))
    func anUnwritableFolderIsRefused() async throws {
        let folder = Self.scratch()
        defer {
            chmod(folder, 0o755)
            try? FileManager.default.removeItem(atPath: folder)
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        chmod(folder, 0o555)
        await #expect(throws: StoreError.self) { try await Self.open(folder + "/jobs.db") }
    }
}
