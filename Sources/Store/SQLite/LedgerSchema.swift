/// The ledger's tables, as a list of migrations: migration n takes a database at
/// `PRAGMA user_version` n to n + 1. A database at a version beyond the list was written by a
/// newer gateway and is not touched. Append new migrations; never edit one that has shipped.
enum LedgerSchema {
    static let migrations: [String] = [
        // 1: jobs, their event log, the latest progress per node, idempotency keys.
        """
        CREATE TABLE jobs (
            position INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            client_id TEXT NOT NULL,
            backend TEXT NOT NULL,
            status TEXT NOT NULL,
            number INTEGER,
            created_at INTEGER NOT NULL,
            started_at INTEGER,
            finished_at INTEGER,
            workflow TEXT NOT NULL,
            extra_data TEXT NOT NULL,
            outputs TEXT NOT NULL,
            error TEXT NOT NULL
        );
        CREATE INDEX jobs_by_status ON jobs (status, position);
        CREATE INDEX jobs_by_client ON jobs (client_id, position);
        CREATE INDEX jobs_by_finish ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE TABLE job_events (
            job_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (job_id, sequence)
        ) WITHOUT ROWID;
        CREATE TABLE job_progress (
            job_id TEXT NOT NULL,
            node TEXT NOT NULL,
            data TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (job_id, node)
        ) WITHOUT ROWID;
        CREATE TABLE idempotency_keys (
            key TEXT PRIMARY KEY,
            request_hash TEXT NOT NULL,
            job_id TEXT NOT NULL,
            answer TEXT,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
        CREATE INDEX idempotency_keys_by_job ON idempotency_keys (job_id);
        """
    ]
}
