// MoleculeWorkflow (L3): workflows as the API sees them, composed from AtomComfyHTTP and
// AtomValidation. Never imports another molecule; the coordinators compose molecules.

package import AtomComfyHTTP
import AtomValidation
package import Codecs
package import Models

/// The workflow business of the gateway: submit a graph, tell a prompt's state from ComfyUI's
/// queue and history, list the files it produced, interrupt or withdraw it.
///
/// Every prompt goes to ComfyUI under the gateway's own upstream client id (so its one socket
/// sees every event); the caller's client id travels in `extra_data.gateway_client_id`, where
/// the queue and the event tracker read it back. Loop-bound, like `ComfyAPI`.
package struct Workflows: Sendable {
    let api: ComfyAPI
    /// The client id the gateway's upstream socket uses.
    package let upstreamClientID: String

    package init(api: ComfyAPI, upstreamClientID: String) {
        self.api = api
        self.upstreamClientID = upstreamClientID
    }

    /// Checks the graph's structure and `extra_data` (the gateway's own check, before anything
    /// is recorded or sent).
    package static func check(_ request: WorkflowSubmitRequest) throws(GatewayError) {
        try WorkflowGraphCheck.check(request.workflow)
        if let extraData = request.extraData { try WorkflowGraphCheck.checkExtraData(extraData) }
    }

    /// The `extra_data` ComfyUI gets for `request`: the caller's, plus the caller's client id.
    package static func extraData(of request: WorkflowSubmitRequest, clientID: String) -> JSONValue {
        var extraData = request.extraData ?? [:]
        extraData[WorkflowSubmitRequest.clientIDKey] = .string(clientID)
        return .object(extraData)
    }

    /// Queues a checked graph under `promptID` for `clientID`.
    package func submit(
        _ request: WorkflowSubmitRequest, promptID: String, clientID: String
    ) async throws(GatewayError) -> WorkflowSubmission {
        let submitted = try await api.submit(
            workflow: request.workflow, clientID: upstreamClientID, promptID: promptID,
            extraData: Self.extraData(of: request, clientID: clientID), front: request.front)
        return WorkflowSubmission(
            promptID: submitted.promptID, number: Int(clampingWholePart: submitted.number), clientID: clientID,
            nodeErrors: submitted.nodeErrors)
    }

    /// The state of a prompt: finished (from its history), running or pending (from the queue).
    /// A prompt that finishes between the two reads is found by reading the history again.
    package func history(promptID: String) async throws(GatewayError) -> WorkflowHistory {
        if let entry = try await api.history(promptID: promptID) {
            return HistoryReading.finished(promptID: promptID, entry: entry)
        }
        let queue = try await api.queue()
        if queue.running.contains(where: { $0.promptID == promptID }) {
            return WorkflowHistory(promptID: promptID, status: .running, queuePosition: 0)
        }
        if let index = queue.pending.firstIndex(where: { $0.promptID == promptID }) {
            return WorkflowHistory(promptID: promptID, status: .pending, queuePosition: index + 1)
        }
        if let entry = try await api.history(promptID: promptID) {
            return HistoryReading.finished(promptID: promptID, entry: entry)
        }
        throw Self.notFound(promptID)
    }

    /// The files in a prompt's outputs (none until it has finished).
    package func outputFiles(of history: WorkflowHistory) -> [OutputFile] {
        HistoryReading.outputFiles(history.outputs)
    }

    /// Interrupts what runs (no id), or the prompt `promptID`: interrupted when it runs, removed
    /// from the queue when it waits, `WORKFLOW_NOT_FOUND` otherwise. Where ComfyUI has its job
    /// routes this is one atomic cancel; elsewhere the queue is read first.
    package func interrupt(promptID: String?) async throws(GatewayError) -> InterruptResult {
        if let promptID, try await api.hasJobRoutes() {
            return try await cancel(promptID)
        }
        let queue = try await api.queue()
        guard let promptID else {
            try await api.interrupt()
            return InterruptResult(promptID: queue.running.first?.promptID, action: .interrupted)
        }
        if queue.running.contains(where: { $0.promptID == promptID }) {
            try await api.interrupt(promptID: promptID)
            return InterruptResult(promptID: promptID, action: .interrupted)
        }
        if queue.pending.contains(where: { $0.promptID == promptID }) {
            let withdrawal = try await api.withdraw([promptID])
            if !withdrawal.running.isEmpty {
                try await api.interrupt(promptID: promptID)
                return InterruptResult(promptID: promptID, action: .interrupted)
            }
            if !withdrawal.pending.isEmpty {
                throw GatewayError(
                    .queueOperationError, message: "ComfyUI kept prompt '\(promptID)' in its queue after the delete.",
                    details: ["prompt_id": .string(promptID), "upstream": .string(api.baseURL)])
            }
            if try await api.history(promptID: promptID) != nil {
                throw GatewayError(
                    .workflowNotFound, message: "Prompt '\(promptID)' finished before it could be withdrawn.",
                    details: ["prompt_id": .string(promptID)])
            }
            return InterruptResult(promptID: promptID, action: .removedFromQueue)
        }
        throw GatewayError(
            .workflowNotFound, message: "Prompt '\(promptID)' is neither running nor queued.",
            details: ["prompt_id": .string(promptID)])
    }

    /// Cancels `promptID` with ComfyUI's job route. A cancelled pending job leaves no trace, a
    /// running one is still listed (being interrupted, or ended as cancelled): that tells which
    /// it was. When ComfyUI cannot be asked afterwards, the job is taken as removed, so its end is
    /// reported now rather than never.
    private func cancel(_ promptID: String) async throws(GatewayError) -> InterruptResult {
        guard try await api.cancelJob(promptID) else {
            throw GatewayError(
                .workflowNotFound, message: "Prompt '\(promptID)' is neither running nor queued.",
                details: ["prompt_id": .string(promptID)])
        }
        let job = try? await api.job(promptID)
        return InterruptResult(promptID: promptID, action: job == nil ? .removedFromQueue : .interrupted)
    }

    static func notFound(_ promptID: String) -> GatewayError {
        GatewayError(
            .workflowNotFound,
            message: "ComfyUI does not know prompt '\(promptID)' (not queued, not running, no history).",
            details: ["prompt_id": .string(promptID)])
    }

    /// A new job id: a lowercase canonical UUID, sent to ComfyUI as the prompt id.
    package static func newPromptID() -> String {
        ComfyAPI.newPromptID()
    }

    /// A client id for callers that gave none: 32 hex digits.
    package static func newClientID() -> String {
        let high = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let low = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return String(repeating: "0", count: 16 - high.count) + high + String(repeating: "0", count: 16 - low.count)
            + low
    }
}

extension Workflows {
    /// Workflows over the backend's JSON connections.
    package init(backend: ComfyBackend, upstreamClientID: String) {
        self.init(api: backend.json, upstreamClientID: upstreamClientID)
    }
}
