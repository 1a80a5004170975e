package import Codecs
package import Models
import MoleculeEvents
import MoleculeImage
import MoleculeJobs
import MoleculeWorkflow

/// The workflow API of the service: submit, follow, list images, interrupt. Composes
/// `MoleculeWorkflow` (ComfyUI's view of prompts), `MoleculeJobs` (the ledger: every job is
/// recorded before it is sent, and answered from there once ComfyUI forgets it),
/// `MoleculeImage` (download URLs) and `MoleculeEvents` (every submitted prompt is followed for
/// the caller's WebSockets).
package struct WorkflowCoordinator: Sendable {
    let workflows: Workflows
    let events: UpstreamEvents
    let jobs: Jobs
    /// How many unfinished prompts one client id may have (`MAX_PENDING_PER_CLIENT`; 0: no cap).
    let maxPendingPerClient: Int

    init(workflows: Workflows, events: UpstreamEvents, jobs: Jobs, maxPendingPerClient: Int) {
        self.workflows = workflows
        self.events = events
        self.jobs = jobs
        self.maxPendingPerClient = maxPendingPerClient
    }

    /// Checks a workflow, records it as a job, queues it under the job's id and follows it for
    /// the sockets of its client id. `beforeFollowing` runs once ComfyUI has queued it and before
    /// any of its events are passed on. With an idempotency key, a repeat of the key's first
    /// request within 24 h gets that request's answer again (`replayed`) and queues nothing.
    /// A client id with `maxPendingPerClient` unfinished prompts gets 429 `QUEUE_FULL`.
    package func submit(
        _ request: WorkflowSubmitRequest, idempotency: IdempotencyKey? = nil,
        beforeFollowing: (WorkflowSubmission) -> Void = { _ in }
    ) async throws(GatewayError) -> SubmitAnswer {
        try Workflows.check(request)
        let clientID = request.clientID ?? Workflows.newClientID()
        let capped = maxPendingPerClient > 0 ? request.clientID : nil
        if let clientID = capped {
            guard events.reserve(for: clientID, limit: maxPendingPerClient) else {
                throw GatewayError(
                    .queueFull,
                    message:
                        "Client id '\(clientID)' has \(maxPendingPerClient) unfinished prompts, the most one client may have; submit again when one has ended.",
                    details: [
                        "client_id": .string(clientID), "limit": .int(Int64(maxPendingPerClient)), "retry_after": 1,
                    ])
            }
        }
        var reserved = capped != nil
        defer { if reserved, let clientID = capped { events.release(for: clientID) } }
        let id = Workflows.newPromptID()
        let record = JobRecord(
            id: id, clientID: clientID, backend: Jobs.defaultBackend, createdAt: jobs.now, workflow: request.workflow,
            extraData: Workflows.extraData(of: request, clientID: clientID))
        if case .replay(let answer) = try await jobs.admit(
            record, key: idempotency?.key, requestHash: idempotency?.requestHash ?? "")
        {
            return SubmitAnswer(json: answer, replayed: true)
        }
        // Followed before it is sent (its events wait until the answer is in); from here the
        // tracked prompt counts against the cap.
        events.track(promptID: id, clientID: clientID, held: true)
        if let clientID = capped {
            events.release(for: clientID)
            reserved = false
        }
        let submission: WorkflowSubmission
        do {
            submission = try await workflows.submit(request, promptID: id, clientID: clientID)
        } catch {
            if error.code == .taskTimeout {
                // ComfyUI may have queued it after all: keep following it; the tracker's check of
                // quiet prompts finds it, or reports it lost.
                events.release(promptID: id)
                jobs.settled(key: idempotency?.key)
            } else {
                events.untrack(promptID: id)
                jobs.discard(id, key: idempotency?.key)
            }
            throw error
        }
        jobs.accepted(id, number: submission.number, key: idempotency?.key, answer: submission.json)
        beforeFollowing(submission)
        events.release(promptID: id)
        return SubmitAnswer(json: submission.json, replayed: false)
    }

    /// A prompt's state: ComfyUI's view while it knows the prompt, the ledger's once it does not
    /// (withdrawn, lost in a restart, pruned from its history), and the ledger's for an ended
    /// job while ComfyUI cannot be reached.
    package func history(promptID: String) async throws(GatewayError) -> WorkflowHistory {
        do {
            return try await workflows.history(promptID: promptID)
        } catch {
            guard error.code == .workflowNotFound || error.code == .connectionError || error.code == .taskTimeout,
                let record = try? await jobs.job(promptID),
                error.code == .workflowNotFound || record.status.isFinished
            else { throw error }
            return Self.history(of: record)
        }
    }

    /// The v1 history view of a job the ledger kept: ComfyUI's raw entry and messages are gone,
    /// so `history` is null and `messages` empty.
    static func history(of record: JobRecord) -> WorkflowHistory {
        WorkflowHistory(
            promptID: record.id, status: record.status, queuePosition: nil, outputs: record.outputs, messages: [],
            error: record.error, history: .null)
    }

    /// The files of a prompt, each with its gateway download URL under `base`.
    package func images(promptID: String, base: String) async throws(GatewayError) -> WorkflowImages {
        let history = try await history(promptID: promptID)
        return Self.images(of: history, base: base)
    }

    /// The files of a finished prompt's history, each with its gateway download URL under `base`.
    static func images(of history: WorkflowHistory, base: String) -> WorkflowImages {
        WorkflowImages(
            promptID: history.promptID, status: history.status,
            images: HistoryReading.outputFiles(history.outputs).map {
                ($0, ImageStore.downloadURL($0.location, base: base))
            }
        )
    }

    package func interrupt(promptID: String?) async throws(GatewayError) -> InterruptResult {
        let result = try await workflows.interrupt(promptID: promptID)
        if result.action == .removedFromQueue, let promptID {
            events.withdraw(promptID: promptID, reason: "withdrawn from ComfyUI's queue before it ran")
        }
        return result
    }
}

/// An `Idempotency-Key` header and the digest of the body it came with.
package struct IdempotencyKey: Sendable, Equatable {
    package var key: String
    package var requestHash: String

    package init(key: String, requestHash: String) {
        self.key = key
        self.requestHash = requestHash
    }
}

/// What a submit answers: the submission, or (`replayed`) the first answer of its idempotency key.
package struct SubmitAnswer: APIResponse, Equatable {
    package var json: JSONValue
    package var replayed: Bool

    package init(json: JSONValue, replayed: Bool) {
        self.json = json
        self.replayed = replayed
    }
}
