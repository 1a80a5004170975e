// MoleculeQueue (L3): ComfyUI's queue, normalised and cleared, over AtomComfyHTTP. Never imports
// another molecule.

package import AtomComfyHTTP
package import Core
package import Models
package import Reactor

/// The queue business: ComfyUI's queue normalised for clients, and clearing it.
/// Loop-bound, like `ComfyAPI`.
package struct QueueControl: Sendable {
    let api: ComfyAPI

    /// The wait of the request queued longest for one of this unit's connections to ComfyUI, and
    /// how many wait.
    package var connectionWait: (longest: Duration, waiting: Int) { (api.longestPoolWait, api.poolWaiters) }

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
        if request.clear {
            try await api.clearQueue()
        } else if !targets.isEmpty {
            try await api.deleteFromQueue(targets.sorted())
        }
        guard !targets.isEmpty else { return QueueClearResult(cleared: request.clear, removed: 0) }
        let after = try await api.queue()
        let remaining = Set((after.pending + after.running).map(\.promptID))
        let removed = targets.subtracting(remaining).sorted()
        return QueueClearResult(cleared: request.clear, removed: removed.count, removedPromptIDs: removed)
    }

    static func entry(_ entry: ComfyQueueEntry) -> QueueEntry {
        QueueEntry(
            number: Int(clampingWholePart: entry.number), promptID: entry.promptID,
            clientID: entry.clientID)
    }
}

extension QueueControl {
    /// Queue control with its own upstream connection pool to the configured ComfyUI.
    package init(configuration: GatewayConfiguration, loop: EventLoop) {
        self.init(
            api: ComfyAPI(
                baseURL: configuration.comfyURL, timeoutSeconds: configuration.comfyTimeoutSeconds, loop: loop))
    }
}

extension QueueControl {
    /// Closes this molecule's upstream connections. Call on the loop, at shutdown.
    package func shutdown() {
        api.shutdown()
    }
}
