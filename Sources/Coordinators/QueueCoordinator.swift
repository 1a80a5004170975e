package import Models
package import MoleculeQueue

/// The queue API of the service: status and clearing.
package struct QueueCoordinator: Sendable {
    let queue: QueueControl

    package init(queue: QueueControl) {
        self.queue = queue
    }

    package func status() async throws(GatewayError) -> QueueStatus {
        try await queue.status()
    }

    package func clear(_ request: QueueClearRequest) async throws(GatewayError) -> QueueClearResult {
        try await queue.clear(request)
    }
}
