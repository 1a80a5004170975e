package import Models
import MoleculeEvents
import MoleculeQueue

/// The queue API of the service: status and clearing. Prompts it removes end for their
/// WebSockets as interrupted (`MoleculeEvents`).
package struct QueueCoordinator: Sendable {
    let queue: QueueControl
    let events: UpstreamEvents

    init(queue: QueueControl, events: UpstreamEvents) {
        self.queue = queue
        self.events = events
    }

    package func status() async throws(GatewayError) -> QueueStatus {
        try await queue.status()
    }

    package func clear(_ request: QueueClearRequest) async throws(GatewayError) -> QueueClearResult {
        let result = try await queue.clear(request)
        for promptID in result.removedPromptIDs {
            events.withdraw(promptID: promptID, reason: "removed from ComfyUI's queue before it ran")
        }
        return result
    }
}
