import Client
import Codecs
package import Models

/// One entry of ComfyUI's queue, as much of it as the gateway uses: from its positional array
/// `[number, prompt_id, prompt, extra_data, outputs_to_execute, ...]`, the number, the id and the
/// client ids in `extra_data` (the workflow itself is skipped while the answer streams in).
package struct ComfyQueueEntry: Sendable, Equatable {
    package let number: Double
    package let promptID: String
    /// `extra_data.client_id`: the id the prompt was submitted with.
    package let submittedClientID: String?
    /// `extra_data.gateway_client_id`: the caller's client id, for prompts the gateway queued.
    package let gatewayClientID: String?

    /// The client the prompt belongs to: the gateway's caller, or whoever submitted it directly.
    package var clientID: String? { gatewayClientID ?? submittedClientID }

    init(_ entry: QueueScanner.Entry) {
        number = entry.number
        promptID = entry.promptID
        submittedClientID = entry.clientID
        gatewayClientID = entry.gatewayClientID
    }
}

/// ComfyUI's queue: what runs, and what waits in execution order.
package struct ComfyQueue: Sendable, Equatable {
    package let running: [ComfyQueueEntry]
    /// Sorted as ComfyUI runs them: by number, then by prompt id (its heap array is not sorted).
    package let pending: [ComfyQueueEntry]
}

extension ComfyAPI {
    /// `GET /queue`, normalised. The answer is scanned as it streams in, keeping only numbers and
    /// ids, so a queue of huge workflows is read (and can be cleared) like any other; the whole
    /// answer must still arrive within the request timeout.
    package func queue() async throws(GatewayError) -> ComfyQueue {
        var request = HTTPClientRequest(method: .get, target: pathPrefix + "/queue")
        request.bodyWithinTimeout = true
        var scanner = QueueScanner()
        let status: Int
        var excerpt: [UInt8] = []
        do {
            let response = try await client.execute(request)
            status = response.status
            for try await chunk in response.body {
                if excerpt.count < 512 { excerpt += chunk.prefix(512 - excerpt.count) }
                if status == 200 { try scanner.feed(chunk) }
            }
        } catch let error as QueueScanner.QueueScanError {
            throw queueMalformed("\(error.reason) at byte \(error.offset)", excerpt: excerpt)
        } catch {
            throw gatewayError(for: error)
        }
        let reply = UpstreamReply(status: status, body: excerpt, json: nil)
        guard status == 200 else { throw unexpected(reply, .queueOperationError, "GET /queue") }
        let lists: (running: [QueueScanner.Entry], pending: [QueueScanner.Entry])
        do {
            lists = try scanner.finish()
        } catch {
            throw queueMalformed("\(error.reason) at byte \(error.offset)", excerpt: excerpt)
        }
        return ComfyQueue(
            running: lists.running.map(ComfyQueueEntry.init),
            pending: lists.pending.map(ComfyQueueEntry.init).sorted {
                ($0.number, $0.promptID) < ($1.number, $1.promptID)
            })
    }

    private func queueMalformed(_ reason: String, excerpt: [UInt8]) -> GatewayError {
        GatewayError(
            .queueOperationError, message: "ComfyUI's answer to GET /queue has an unexpected shape: \(reason).",
            details: [
                "upstream": .string(baseURL), "upstream_body": .string(String(decoding: excerpt, as: UTF8.self)),
            ])
    }

    /// Removes these prompts from the pending queue (ComfyUI ignores running or unknown ids).
    package func deleteFromQueue(_ promptIDs: [String]) async throws(GatewayError) {
        try await post("/queue", ["delete": .array(promptIDs.map(JSONValue.string))], operation: "POST /queue")
    }

    /// Empties the pending queue (the running prompt is not affected).
    package func clearQueue() async throws(GatewayError) {
        try await post("/queue", ["clear": true], operation: "POST /queue")
    }

    /// What became of prompts the gateway tried to take out of the queue.
    package struct Withdrawal: Sendable, Equatable {
        /// Gone from the queue (neither pending nor running when it was read again).
        package var removed: [String]
        /// Started running before the delete reached ComfyUI (it ignores the delete then).
        package var running: [String]
        /// Still pending after the delete (ComfyUI did not honour it).
        package var pending: [String]
    }

    /// Removes `promptIDs` from the pending queue (all pending prompts with `everything`), then
    /// reads the queue again to tell which are really gone: ComfyUI ignores the delete of a
    /// prompt that started meanwhile. The one place this delete-then-look-again step lives.
    package func withdraw(_ promptIDs: Set<String>, everything: Bool = false) async throws(GatewayError) -> Withdrawal {
        if everything {
            try await clearQueue()
        } else if !promptIDs.isEmpty {
            try await deleteFromQueue(promptIDs.sorted())
        }
        guard !promptIDs.isEmpty else { return Withdrawal(removed: [], running: [], pending: []) }
        let after = try await queue()
        let running = Set(after.running.map(\.promptID))
        let pending = Set(after.pending.map(\.promptID))
        return Withdrawal(
            removed: promptIDs.subtracting(running).subtracting(pending).sorted(),
            running: promptIDs.intersection(running).sorted(), pending: promptIDs.intersection(pending).sorted())
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
