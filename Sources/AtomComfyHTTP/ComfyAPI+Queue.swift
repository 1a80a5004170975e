import Codecs
package import Models

/// One entry of ComfyUI's queue, from its positional array
/// `[number, prompt_id, prompt, extra_data, outputs_to_execute, ...]`.
package struct ComfyQueueEntry: Sendable, Equatable {
    package let number: Double
    package let promptID: String
    package let prompt: JSONValue
    package let extraData: JSONValue
    package let outputsToExecute: [String]

    /// The client id the prompt was submitted with, if any.
    package var clientID: String? { extraData["client_id"]?.stringValue }

    init?(_ value: JSONValue) {
        guard let fields = value.arrayValue, fields.count >= 5, let number = fields[0].doubleValue else { return nil }
        switch fields[1] {
        case .string(let id): promptID = id
        case .int(let id): promptID = String(id)
        default: return nil
        }
        self.number = number
        prompt = fields[2]
        extraData = fields[3]
        outputsToExecute = fields[4].arrayValue?.compactMap(\.stringValue) ?? []
    }
}

/// ComfyUI's queue: what runs, and what waits in execution order.
package struct ComfyQueue: Sendable, Equatable {
    package let running: [ComfyQueueEntry]
    /// Sorted as ComfyUI runs them: by number, then by prompt id (its heap array is not sorted).
    package let pending: [ComfyQueueEntry]
}

extension ComfyAPI {
    /// `GET /queue`, normalised.
    package func queue() async throws(GatewayError) -> ComfyQueue {
        let reply = try await exchange(.get, "/queue")
        guard reply.status == 200 else { throw unexpected(reply, .queueOperationError, "GET /queue") }
        guard let json = reply.json, let running = json["queue_running"]?.arrayValue,
            let pending = json["queue_pending"]?.arrayValue
        else { throw malformed(reply, .queueOperationError, "GET /queue") }
        let runningEntries = running.compactMap(ComfyQueueEntry.init)
        let pendingEntries = pending.compactMap(ComfyQueueEntry.init)
        guard runningEntries.count == running.count, pendingEntries.count == pending.count else {
            throw malformed(reply, .queueOperationError, "GET /queue")
        }
        return ComfyQueue(
            running: runningEntries,
            pending: pendingEntries.sorted { ($0.number, $0.promptID) < ($1.number, $1.promptID) })
    }

    /// Removes these prompts from the pending queue (ComfyUI ignores running or unknown ids).
    package func deleteFromQueue(_ promptIDs: [String]) async throws(GatewayError) {
        try await post("/queue", ["delete": .array(promptIDs.map(JSONValue.string))], operation: "POST /queue")
    }

    /// Empties the pending queue (the running prompt is not affected).
    package func clearQueue() async throws(GatewayError) {
        try await post("/queue", ["clear": true], operation: "POST /queue")
    }

    /// Interrupts the running prompt; with `promptID`, only if that is the one running.
    package func interrupt(promptID: String? = nil) async throws(GatewayError) {
        let body: JSONValue = promptID.map { ["prompt_id": .string($0)] } ?? [:]
        try await post("/interrupt", body, operation: "POST /interrupt")
    }

    /// A POST that ComfyUI answers with 200 and an empty body.
    func post(_ path: String, _ body: JSONValue, operation: String) async throws(GatewayError) {
        let reply = try await exchange(.post, path, json: body)
        guard reply.status == 200 else { throw unexpected(reply, .queueOperationError, operation) }
    }
}
