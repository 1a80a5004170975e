package import Models

/// No ledger at all (`LEDGER_URL=none`): every write is dropped and every read finds nothing. For
/// measuring what the ledger costs, and for deployments that want a pure proxy: jobs are then
/// known only while ComfyUI remembers them, idempotency keys are not kept, and nothing is
/// reconciled after a restart.
package struct NullJobStore: JobStore {
    package init() {}

    package func create(_ job: JobRecord, idempotency: IdempotencyEntry?) async throws(StoreError) {}
    package func apply(_ changes: [JobChange]) async throws(StoreError) {}
    package func job(id: String) async throws(StoreError) -> JobRecord? { nil }
    package func jobs(matching query: JobQuery) async throws(StoreError) -> JobPage {
        JobPage(jobs: [], nextCursor: nil)
    }
    package func unfinishedJobs() async throws(StoreError) -> [JobRecord] { [] }
    package func idempotencyEntry(key: String) async throws(StoreError) -> IdempotencyEntry? { nil }
    package func events(of id: String) async throws(StoreError) -> [JobEvent] { [] }
    package func prune(finishedBefore: Int64, keysBefore: Int64) async throws(StoreError) -> Int { 0 }
    package func close() async {}
}
