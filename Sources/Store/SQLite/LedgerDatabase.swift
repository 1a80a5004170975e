import Codecs
import Glibc
import Models
import Reactor

/// The ledger's SQL over one `SQLiteConnection`: opening (WAL, migrations, an exclusive lock so
/// that no second gateway writes the same file), and each store operation. Lives on the store's
/// worker thread only.
final class LedgerDatabase {
    private let connection: SQLiteConnection
    let location: LedgerLocation

    /// Opens the ledger at `location`, creating the file and its folder when missing, and
    /// brings its schema up to date.
    init(location: LedgerLocation) throws(StoreError) {
        self.location = location
        let path: String
        switch location {
        case .sqliteMemory, .none: path = ":memory:"
        case .sqliteFile(let file):
            path = file
            try Self.createFolder(of: file)
        }
        do {
            connection = try SQLiteConnection(path: path)
        } catch {
            throw StoreError(.cannotOpen, "cannot open the job ledger '\(location.description)': \(error.message)")
        }
        do {
            try prepare()
        } catch {
            connection.close()
            throw Self.describe(error, location: location)
        }
    }

    private func prepare() throws(SQLiteError) {
        // Set before the first table exists; ignored for an existing file (which keeps its mode).
        try connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        let version = try connection.scalar("PRAGMA user_version")?.integer ?? 0
        guard version <= LedgerSchema.migrations.count else {
            throw SQLiteError(
                code: -1,
                message: "schema version \(version) is newer than this gateway's (\(LedgerSchema.migrations.count))")
        }
        if case .sqliteFile = location {
            let mode = try connection.scalar("PRAGMA journal_mode = WAL")?.text ?? ""
            guard mode.lowercased() == "wal" else {
                throw SQLiteError(code: 8, message: "cannot switch the journal to WAL (got '\(mode)')")
            }
        }
        try connection.execute(
            "PRAGMA synchronous = NORMAL; PRAGMA locking_mode = EXCLUSIVE; PRAGMA busy_timeout = 2000")
        // Takes the write lock now (and keeps it: exclusive mode), so a read-only file or a
        // second gateway on the same file is found at start, not at the first submit.
        try connection.execute("BEGIN IMMEDIATE")
        do {
            for index in Int(version)..<LedgerSchema.migrations.count {
                try connection.execute(LedgerSchema.migrations[index])
            }
            try connection.execute("PRAGMA user_version = \(LedgerSchema.migrations.count)")
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    func close() {
        connection.close()
    }

    // MARK: Transactions

    func begin() throws(StoreError) { try control("BEGIN IMMEDIATE") }
    func commit() throws(StoreError) { try control("COMMIT") }
    func rollback() { try? control("ROLLBACK") }
    func savepoint() throws(StoreError) { try control("SAVEPOINT item") }
    func release() throws(StoreError) { try control("RELEASE item") }
    func rollbackToSavepoint() {
        try? control("ROLLBACK TO item")
        try? control("RELEASE item")
    }

    /// Runs a transaction statement, prepared once and cached (`query`) rather than parsed again
    /// per batch and per write.
    private func control(_ sql: String) throws(StoreError) {
        _ = try run { () throws(SQLiteError) in try connection.query(sql) }
    }

    // MARK: Writes

    func create(_ job: JobRecord, idempotency: IdempotencyEntry?) throws(StoreError) {
        try run { () throws(SQLiteError) in
            try connection.query(
                """
                INSERT INTO jobs (id, client_id, backend, status, number, created_at, started_at, finished_at,
                                  workflow, extra_data, outputs, error)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                """,
                [
                    .text(job.id), .text(job.clientID), .text(job.backend), .text(job.status.rawValue),
                    job.number.map { .integer(Int64($0)) } ?? .null, .integer(job.createdAt),
                    job.startedAt.sqliteValue, job.finishedAt.sqliteValue, Self.text(job.workflow),
                    Self.text(job.extraData), Self.text(job.outputs), Self.text(job.error),
                ])
            if let idempotency {
                try connection.query(
                    """
                    INSERT INTO idempotency_keys (key, request_hash, job_id, answer, created_at)
                    VALUES (?1, ?2, ?3, ?4, ?5)
                    ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, job_id = excluded.job_id,
                        answer = excluded.answer, created_at = excluded.created_at
                    """,
                    [
                        .text(idempotency.key), .text(idempotency.requestHash), .text(idempotency.jobID),
                        idempotency.answer.map(Self.text) ?? .null, .integer(idempotency.createdAt),
                    ])
            }
        }
    }

    func apply(_ change: JobChange) throws(StoreError) {
        try run { () throws(SQLiteError) in
            switch change {
            case .accepted(let id, let number):
                try connection.query("UPDATE jobs SET number = ?2 WHERE id = ?1", [.text(id), .integer(Int64(number))])
            case .started(let id, let at):
                try connection.query(
                    "UPDATE jobs SET status = 'running', started_at = ?2 WHERE id = ?1 AND status = 'pending'",
                    [.text(id), .integer(at)])
            case .event(let id, let type, let data, let at):
                try connection.query(
                    """
                    INSERT INTO job_events (job_id, sequence, type, data, at)
                    VALUES (?1, (SELECT coalesce(max(sequence), 0) + 1 FROM job_events WHERE job_id = ?1), ?2, ?3, ?4)
                    """,
                    [.text(id), .text(type), Self.text(data), .integer(at)])
            case .progress(let id, let node, let data, let at):
                try connection.query(
                    """
                    INSERT INTO job_progress (job_id, node, data, at) VALUES (?1, ?2, ?3, ?4)
                    ON CONFLICT (job_id, node) DO UPDATE SET data = excluded.data, at = excluded.at
                    """,
                    [.text(id), .text(node), Self.text(data), .integer(at)])
            case .finished(let id, let status, let outputs, let error, let at):
                try connection.query(
                    """
                    UPDATE jobs SET status = ?2, outputs = ?3, error = ?4, finished_at = ?5
                    WHERE id = ?1 AND status IN ('pending', 'running')
                    """,
                    [.text(id), .text(status.rawValue), Self.text(outputs), Self.text(error), .integer(at)])
            case .discarded(let id):
                try connection.query("DELETE FROM idempotency_keys WHERE job_id = ?1", [.text(id)])
                try connection.query("DELETE FROM job_events WHERE job_id = ?1", [.text(id)])
                try connection.query("DELETE FROM job_progress WHERE job_id = ?1", [.text(id)])
                try connection.query("DELETE FROM jobs WHERE id = ?1", [.text(id)])
            case .answer(let key, let answer):
                try connection.query(
                    "UPDATE idempotency_keys SET answer = ?2 WHERE key = ?1", [.text(key), Self.text(answer)])
            }
        }
    }

    func prune(finishedBefore: Int64, keysBefore: Int64) throws(StoreError) -> Int {
        try run { () throws(SQLiteError) in
            let old = "SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?1"
            try connection.query("DELETE FROM job_events WHERE job_id IN (\(old))", [.integer(finishedBefore)])
            try connection.query("DELETE FROM job_progress WHERE job_id IN (\(old))", [.integer(finishedBefore)])
            try connection.query(
                "DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?1", [.integer(finishedBefore)])
            let pruned = connection.changes
            try connection.query("DELETE FROM idempotency_keys WHERE created_at < ?1", [.integer(keysBefore)])
            // Gives the pages the deleted rows used back to the file system.
            try connection.query("PRAGMA incremental_vacuum")
            return pruned
        }
    }

    // MARK: Reads

    private static let summaryColumns =
        "position, id, client_id, backend, status, number, created_at, started_at, finished_at, outputs, error"

    func job(id: String) throws(StoreError) -> JobRecord? {
        let rows = try run { () throws(SQLiteError) in
            try connection.query(
                "SELECT \(Self.summaryColumns), workflow, extra_data FROM jobs WHERE id = ?1", [.text(id)])
        }
        guard let row = rows.first else { return nil }
        var record = try Self.record(row)
        record.workflow = try Self.json(row[11])
        record.extraData = try Self.json(row[12])
        return record
    }

    func jobs(matching query: JobQuery) throws(StoreError) -> JobPage {
        var conditions: [String] = []
        var values: [SQLiteValue] = []
        func bind(_ value: SQLiteValue) -> String {
            values.append(value)
            return "?\(values.count)"
        }
        if !query.statuses.isEmpty {
            conditions.append(
                "status IN (" + query.statuses.map { bind(.text($0.rawValue)) }.joined(separator: ", ") + ")")
        }
        if let clientID = query.clientID { conditions.append("client_id = " + bind(.text(clientID))) }
        if let backend = query.backend { conditions.append("backend = " + bind(.text(backend))) }
        if let cursor = query.cursor { conditions.append("position < " + bind(.integer(cursor.position))) }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let limit = bind(.integer(Int64(query.limit + 1)))
        let rows = try run { () throws(SQLiteError) in
            try connection.query(
                "SELECT \(Self.summaryColumns) FROM jobs\(filter) ORDER BY position DESC LIMIT \(limit)", values)
        }
        var records: [JobRecord] = []
        for row in rows.prefix(query.limit) { records.append(try Self.record(row)) }
        let next = rows.count > query.limit ? rows[query.limit - 1][0].integer.map(JobCursor.init) : nil
        return JobPage(jobs: records, nextCursor: next)
    }

    func unfinishedJobs() throws(StoreError) -> [JobRecord] {
        let rows = try run { () throws(SQLiteError) in
            try connection.query(
                "SELECT \(Self.summaryColumns) FROM jobs WHERE status IN ('pending', 'running') ORDER BY position")
        }
        var records: [JobRecord] = []
        for row in rows { records.append(try Self.record(row)) }
        return records
    }

    func idempotencyEntry(key: String) throws(StoreError) -> IdempotencyEntry? {
        let rows = try run { () throws(SQLiteError) in
            try connection.query(
                "SELECT request_hash, job_id, answer, created_at FROM idempotency_keys WHERE key = ?1", [.text(key)])
        }
        guard let row = rows.first else { return nil }
        // Spelled out: a bare `nil` here would be JSON's null (JSONValue is nil-literal
        // expressible), which is an answer, not the absence of one.
        let answer: JSONValue? = row[2] == .null ? Optional.none : try Self.json(row[2])
        return IdempotencyEntry(
            key: key, requestHash: row[0].text ?? "", jobID: row[1].text ?? "", answer: answer,
            createdAt: row[3].integer ?? 0)
    }

    func events(of id: String) throws(StoreError) -> [JobEvent] {
        let (logged, progress) = try run { () throws(SQLiteError) in
            (
                try connection.query(
                    "SELECT sequence, type, data, at FROM job_events WHERE job_id = ?1 ORDER BY sequence", [.text(id)]),
                try connection.query(
                    "SELECT 0, 'progress', data, at FROM job_progress WHERE job_id = ?1 ORDER BY at, node", [.text(id)])
            )
        }
        var events: [JobEvent] = []
        for row in logged + progress {
            events.append(
                JobEvent(
                    sequence: row[0].integer ?? 0, type: row[1].text ?? "", data: try Self.json(row[2]),
                    at: row[3].integer ?? 0))
        }
        return events
    }

    // MARK: Helpers

    private static func record(_ row: [SQLiteValue]) throws(StoreError) -> JobRecord {
        guard let id = row[1].text, let clientID = row[2].text, let backend = row[3].text,
            let status = row[4].text.flatMap(JobStatus.init(rawValue:)), let createdAt = row[6].integer
        else { throw StoreError(.corrupt, "a job row of the ledger is damaged") }
        return JobRecord(
            id: id, clientID: clientID, backend: backend, status: status, number: row[5].integer.map { Int($0) },
            createdAt: createdAt, startedAt: row[7].integer, finishedAt: row[8].integer, workflow: .null,
            extraData: .null, outputs: try json(row[9]), error: try json(row[10]))
    }

    private static func text(_ value: JSONValue) -> SQLiteValue {
        .text(String(decoding: value.serialized(), as: UTF8.self))
    }

    private static func json(_ value: SQLiteValue) throws(StoreError) -> JSONValue {
        guard let text = value.text, let json = try? JSONValue(parsing: Array(text.utf8)) else {
            throw StoreError(.corrupt, "a JSON value in the ledger is damaged")
        }
        return json
    }

    private func run<T>(_ body: () throws(SQLiteError) -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch {
            throw Self.describe(error, location: location)
        }
    }

    /// The store error for what SQLite reported about the ledger at `location`.
    static func describe(_ error: SQLiteError, location: LedgerLocation) -> StoreError {
        let name = "the job ledger '\(location.description)'"
        if error.code == -1 {
            return StoreError(.newerSchema, "\(name) was written by a newer gateway: \(error.message)")
        }
        if error.isCorrupt { return StoreError(.corrupt, "\(name) is not a ledger or is damaged: \(error)") }
        if error.isFull { return StoreError(.full, "\(name) cannot grow (disk full): \(error)") }
        if error.isReadOnly { return StoreError(.readOnly, "\(name) cannot be written: \(error)") }
        if error.primaryCode == 5 || error.primaryCode == 6 {
            return StoreError(.cannotOpen, "\(name) is in use by another process: \(error)")
        }
        return StoreError(.failed, "\(name) failed: \(error)")
    }

    /// Creates the folder of `path` (and its parents) when missing.
    private static func createFolder(of path: String) throws(StoreError) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let folder = String(path[..<slash])
        guard !folder.isEmpty else { return }
        var prefix = folder.hasPrefix("/") ? "/" : ""
        for part in folder.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                let reason = String(cString: strerror(errno))
                throw StoreError(.cannotOpen, "cannot create the ledger's folder '\(prefix)': \(reason)")
            }
            prefix += "/"
        }
    }
}
