import Codecs
package import Models
import MoleculeEvents
import MoleculeImage
import MoleculeWorkflow

/// The workflow API of the service: submit, follow, list images, interrupt. Composes
/// `MoleculeWorkflow` (ComfyUI's view of prompts) with `MoleculeImage` (download URLs) and
/// `MoleculeEvents` (every submitted prompt is followed for the caller's WebSockets).
package struct WorkflowCoordinator: Sendable {
    let workflows: Workflows
    let events: UpstreamEvents
    /// How many unfinished prompts one client id may have (`MAX_PENDING_PER_CLIENT`; 0: no cap).
    let maxPendingPerClient: Int

    init(workflows: Workflows, events: UpstreamEvents, maxPendingPerClient: Int) {
        self.workflows = workflows
        self.events = events
        self.maxPendingPerClient = maxPendingPerClient
    }

    /// Queues a workflow and follows it for the sockets of its client id. `beforeFollowing` runs
    /// once ComfyUI has queued it and before any of its events are passed on. A client id with
    /// `maxPendingPerClient` unfinished prompts gets 429 `QUEUE_FULL` and nothing is queued.
    package func submit(
        _ request: WorkflowSubmitRequest, beforeFollowing: (WorkflowSubmission) -> Void = { _ in }
    ) async throws(GatewayError) -> WorkflowSubmission {
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
        defer { if let clientID = capped { events.release(for: clientID) } }
        let submission = try await workflows.submit(request)
        beforeFollowing(submission)
        events.track(promptID: submission.promptID, clientID: submission.clientID)
        return submission
    }

    package func history(promptID: String) async throws(GatewayError) -> WorkflowHistory {
        try await workflows.history(promptID: promptID)
    }

    /// The files of a prompt, each with its gateway download URL under `base`.
    package func images(promptID: String, base: String) async throws(GatewayError) -> WorkflowImages {
        let history = try await workflows.history(promptID: promptID)
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
