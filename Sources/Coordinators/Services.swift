// Coordinators (L2): the service's API in Models vocabulary; the one place molecules are
// composed. Imports molecules, Models, Core and the infrastructure's own types (the event loop);
// never an atom.

import Codecs
package import Core
package import Logging
package import Models
import MoleculeBackends
import MoleculeEvents
import MoleculeHealth
import MoleculeImage
import MoleculeJobs
import MoleculeQueue
import MoleculeSessions
import MoleculeWorkflow
package import Reactor

/// Every coordinator of the service, built from the configuration on one event loop, and the
/// background work they need (the upstream monitor, the upstream event socket). Loop-bound.
/// `@unchecked Sendable`: the `Sendable` routes hold it; only tasks on the loop touch it.
package final class Services: @unchecked Sendable {
    package let workflows: WorkflowCoordinator
    package let queue: QueueCoordinator
    package let images: ImageCoordinator
    package let webSockets: WebSocketCoordinator
    package let jobs: JobCoordinator
    /// The client id of the gateway's own upstream WebSocket; every prompt is submitted with it.
    package let upstreamClientID: String
    private let monitor: UpstreamMonitor
    private let workflowsMolecule: Workflows
    private let queueMolecule: QueueControl
    private let imageMolecule: ImageStore
    private let events: UpstreamEvents
    private let backends: Backends
    private let ledger: Jobs
    private let logger: Logger
    private var monitoring: Task<Void, Never>?
    private let loop: EventLoop

    /// Opens the job ledger, then builds every coordinator. A ledger that cannot be used is a
    /// configuration error naming the file.
    package static func open(
        configuration: GatewayConfiguration, loop: EventLoop, logger: Logger
    ) async throws(ConfigurationError) -> Services {
        let ledger = try await Jobs.open(
            ledgerURL: configuration.ledgerURL, loop: loop, logger: logger,
            retentionHours: configuration.jobRetentionHours)
        return Services(configuration: configuration, ledger: ledger, loop: loop, logger: logger)
    }

    private init(configuration: GatewayConfiguration, ledger: Jobs, loop: EventLoop, logger: Logger) {
        let upstreamClientID = "comfy-gateway-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        self.upstreamClientID = upstreamClientID
        self.loop = loop
        self.ledger = ledger
        self.logger = logger
        let backends = Backends(configuration: configuration, loop: loop)
        self.backends = backends
        workflowsMolecule = Workflows(backend: backends.primary, upstreamClientID: upstreamClientID)
        queueMolecule = QueueControl(backend: backends.primary)
        imageMolecule = ImageStore(backend: backends.primary, configuration: configuration, loop: loop)
        events = UpstreamEvents(
            backend: backends.primary, upstreamClientID: upstreamClientID, loop: loop, logger: logger)
        workflows = WorkflowCoordinator(
            workflows: workflowsMolecule, events: events, jobs: ledger,
            maxPendingPerClient: configuration.maxPendingPerClient)
        queue = QueueCoordinator(queue: queueMolecule, events: events)
        jobs = JobCoordinator(jobs: ledger, queue: queueMolecule)
        var policy = Sessions.Policy()
        policy.maxQueuedBytes = configuration.wsSendQueueBytes
        webSockets = WebSocketCoordinator(sessions: Sessions(policy: policy), events: events, workflows: workflows)
        images = ImageCoordinator(store: imageMolecule)
        monitor = UpstreamMonitor(backend: backends.primary, logger: logger)
        let recorder = JobRecorder(jobs: ledger)
        events.onNotice = { [webSockets] notice in
            recorder.record(notice)
            webSockets.deliver(notice)
        }
    }

    /// Nil when ComfyUI answered the last readiness probe, else the error to answer with. Call
    /// on the loop.
    package func readiness() -> GatewayError? {
        if let error = monitor.readiness() { return error }
        // ComfyUI answers its probe, but the gateway's connections to it may all be held by
        // requests it never answers: then new requests would only queue, so say so.
        let worst = backends.connectionWait
        guard worst.longest >= Self.starvedAfter else { return nil }
        let seconds = worst.longest.components.seconds
        let reason =
            "every connection to ComfyUI is busy; \(worst.waiting) requests have waited up to \(seconds) s for one"
        return GatewayError(
            .connectionError, status: 503, message: "ComfyUI at \(monitor.upstream) is not ready: \(reason).",
            details: ["upstream": .string(monitor.upstream), "reason": .string(reason)])
    }

    /// How long requests may wait for a pooled connection before readiness fails.
    static let starvedAfter: Duration = .seconds(2)

    /// What the service is doing now, for metrics. Call on the loop.
    package func stats() -> GatewayStats {
        var stats = GatewayStats()
        webSockets.recordStats(into: &stats)
        stats.upstreamReachable = monitor.readiness() == nil
        return stats
    }

    /// The configured ComfyUI's base URL.
    package var upstream: String { monitor.upstream }

    /// Starts the background work on the loop: every job the ledger has not seen end is
    /// followed again (the upstream socket's first connection reconciles each with ComfyUI's
    /// queue and history), ended jobs are pruned after their retention, and ComfyUI is watched.
    package func start() async {
        await Task(executorPreference: loop) {
            do {
                let unfinished = try await self.ledger.unfinished()
                for job in unfinished { self.events.track(promptID: job.id, clientID: job.clientID) }
                if !unfinished.isEmpty {
                    self.logger.info("following \(unfinished.count) unfinished jobs from the ledger again")
                }
            } catch {
                self.logger.error("cannot read the unfinished jobs from the ledger: \(error)")
            }
            self.ledger.startPruning()
            let monitor = self.monitor
            self.monitoring = Task(executorPreference: self.loop) { await monitor.run() }
            // Readiness follows the upstream socket at once: a drop or a reconnect is probed
            // now rather than at the next scheduled probe (up to 10 s later).
            self.events.onConnectionChange = { [loop = self.loop] _ in
                Task(executorPreference: loop) { await monitor.probe() }
            }
            // And the other way: once ComfyUI answers again, the upstream socket reconnects at
            // once instead of at the end of its backoff (up to 30 s later).
            monitor.onReachable = { [events = self.events] in events.reconnectNow() }
            self.events.start()
        }.value
    }

    /// Stops the background work and closes every upstream connection.
    package func shutdown() async {
        await Task(executorPreference: loop) {
            self.monitoring?.cancel()
            self.monitoring = nil
            self.events.stop()
            self.backends.shutdown()
            await self.ledger.close()
            self.logger.info("job ledger closed")
        }.value
    }
}
