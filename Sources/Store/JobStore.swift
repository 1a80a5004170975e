// Store: where the gateway's jobs are kept. Above it nothing knows which database that is: the
// molecules see this protocol, and the location (`LEDGER_URL`) picks the implementation.

package import Codecs
package import Models

/// The gateway's durable memory of its jobs: each job's record, its event log, and the
/// idempotency keys of submits. Every method may be called from the event loop; none blocks it.
/// A method returns once what it wrote is committed.
package protocol JobStore: Sendable {
    /// Records a new job (and the idempotency key it was submitted with), before the job is
    /// sent anywhere.
    func create(_ job: JobRecord, idempotency: IdempotencyEntry?) async throws(StoreError)
    /// Applies `changes` in order, in one transaction.
    func apply(_ changes: [JobChange]) async throws(StoreError)
    /// The job `id`, with its workflow.
    func job(id: String) async throws(StoreError) -> JobRecord?
    /// A page of jobs, newest first (without their workflows).
    func jobs(matching query: JobQuery) async throws(StoreError) -> JobPage
    /// Every job that has not ended, oldest first (without their workflows).
    func unfinishedJobs() async throws(StoreError) -> [JobRecord]
    /// The idempotency key `key`, if a submit used it.
    func idempotencyEntry(key: String) async throws(StoreError) -> IdempotencyEntry?
    /// The job's event log, oldest first, then the latest progress of each node.
    func events(of id: String) async throws(StoreError) -> [JobEvent]
    /// Deletes the jobs that ended before `finishedBefore` (and their events) and the
    /// idempotency keys made before `keysBefore`; returns how many jobs went.
    func prune(finishedBefore: Int64, keysBefore: Int64) async throws(StoreError) -> Int
    /// Finishes what is queued and closes the database.
    func close() async
}

/// A change to a recorded job.
package enum JobChange: Sendable, Equatable {
    /// The backend accepted the job as queue number `number`.
    case accepted(id: String, number: Int)
    /// The job started running at `at`.
    case started(id: String, at: Int64)
    /// One entry of the job's event log (`executing`, `executed`, a state change, the end).
    case event(id: String, type: String, data: JSONValue, at: Int64)
    /// The latest `progress` of one node: it replaces the one before.
    case progress(id: String, node: String, data: JSONValue, at: Int64)
    /// The job ended. Only the first end of a job counts.
    case finished(id: String, status: JobStatus, outputs: JSONValue, error: JSONValue, at: Int64)
    /// The job was never accepted (the backend refused it): it is forgotten, with its key.
    case discarded(id: String)
    /// The answer a replay of the idempotency key `key` gets.
    case answer(key: String, answer: JSONValue)
}

/// An idempotency key: which request first used it, for which job, and the answer it got.
package struct IdempotencyEntry: Sendable, Equatable {
    package var key: String
    /// A digest of the first request's body.
    package var requestHash: String
    package var jobID: String
    /// The first request's answer, once it has one.
    package var answer: JSONValue?
    package var createdAt: Int64

    package init(key: String, requestHash: String, jobID: String, answer: JSONValue? = nil, createdAt: Int64) {
        self.key = key
        self.requestHash = requestHash
        self.jobID = jobID
        self.answer = answer
        self.createdAt = createdAt
    }
}

/// One entry of a job's event log.
package struct JobEvent: Sendable, Equatable {
    /// The position in the log (1, 2, ...); progress entries come after, with 0.
    package var sequence: Int64
    package var type: String
    package var data: JSONValue
    package var at: Int64

    package init(sequence: Int64, type: String, data: JSONValue, at: Int64) {
        self.sequence = sequence
        self.type = type
        self.data = data
        self.at = at
    }
}

/// Why the store could not do what it was asked.
package struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds a caller tells apart.
    package enum Kind: Sendable, Equatable {
        /// The database cannot be opened or created (missing folder, no permission).
        case cannotOpen
        /// The file is not a ledger, or is damaged.
        case corrupt
        /// The ledger was written by a newer gateway.
        case newerSchema
        /// The disk is full.
        case full
        /// The database cannot be written.
        case readOnly
        /// The store is closed.
        case closed
        /// Any other failure.
        case failed
    }

    package var kind: Kind
    package var message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }
}
