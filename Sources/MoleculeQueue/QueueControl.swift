// MoleculeQueue (L3): ComfyUI's queue, normalised and cleared, over AtomComfyHTTP. Never imports
// another molecule.

package import AtomComfyHTTP
package import Models

/// The queue business: ComfyUI's queue normalised for clients, and clearing it.
/// Loop-bound, like `ComfyAPI`.
package struct QueueControl: Sendable {
    let api: ComfyAPI

    package init(api: ComfyAPI) {
        self.api = api
    }

    /// What runs and what waits, pending in run order.
    package func status() async throws(GatewayError) -> QueueStatus {
        let queue = try await api.queue()
        return QueueStatus(running: queue.running.map(Self.entry), pending: queue.pending.map(Self.entry))
    }

    /// Clears every pending prompt (`clear`), and/or removes the pending prompts `delete` names.
    /// `removed` counts the prompts that were pending and, read again afterwards, are neither
    /// pending nor running (ComfyUI ignores a delete for a prompt that started meanwhile).
    package func clear(_ request: QueueClearRequest) async throws(GatewayError) -> QueueClearResult {
        let pending = Set(try await api.queue().pending.map(\.promptID))
        let targets = request.clear ? pending : Set(request.delete ?? []).intersection(pending)
        let withdrawal = try await api.withdraw(targets, everything: request.clear)
        return QueueClearResult(
            cleared: request.clear, removed: withdrawal.removed.count, removedPromptIDs: withdrawal.removed)
    }

    static func entry(_ entry: ComfyQueueEntry) -> QueueEntry {
        QueueEntry(
            number: Int(clampingWholePart: entry.number), promptID: entry.promptID,
            clientID: entry.clientID)
    }
}

extension QueueControl {
    /// Queue control over the backend's JSON connections.
    package init(backend: ComfyBackend) {
        self.init(api: backend.json)
    }
}
