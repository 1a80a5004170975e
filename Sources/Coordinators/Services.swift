package import Core
import MoleculeImage
import MoleculeQueue
package import MoleculeWorkflow

/// The event loop everything below Entry runs on, named for Entry.
package typealias ServicesEventLoop = MoleculeEventLoop

/// Every coordinator of the service, built from the configuration on one event loop.
package struct Services: Sendable {
    package let workflows: WorkflowCoordinator
    package let queue: QueueCoordinator
    package let images: ImageCoordinator
    /// The client id of the gateway's own upstream WebSocket; every prompt is submitted with it.
    package let upstreamClientID: String

    package init(configuration: GatewayConfiguration, loop: ServicesEventLoop) {
        let upstreamClientID = "comfy-gateway-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        self.upstreamClientID = upstreamClientID
        workflows = WorkflowCoordinator(
            workflows: Workflows(configuration: configuration, upstreamClientID: upstreamClientID, loop: loop))
        queue = QueueCoordinator(queue: QueueControl(configuration: configuration, loop: loop))
        images = ImageCoordinator(store: ImageStore(configuration: configuration, loop: loop))
    }
}
