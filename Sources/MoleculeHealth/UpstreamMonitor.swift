// MoleculeHealth (L3): whether ComfyUI answers, for /ready and the operator's log, over
// AtomComfyHTTP. Never imports another molecule.

package import AtomComfyHTTP
import Codecs
package import Logging
package import Models

/// Watches whether ComfyUI answers, by asking its cheap `/system_stats` in a loop, and says so in
/// the log once per change: one clear line when it becomes unreachable (with the reason and the
/// retry pace), one when it is back. Readiness reads `state`. Loop-bound.
/// `@unchecked Sendable`: the readiness route holds it; its probe task and readers run on the loop.
package final class UpstreamMonitor: @unchecked Sendable {
    /// What the last probe found.
    package enum State: Sendable, Equatable {
        case unknown
        case reachable
        case unreachable(reason: String)
    }

    package private(set) var state = State.unknown
    /// When the last probe ended.
    package private(set) var lastCheck: ContinuousClock.Instant?
    /// Called on the loop when a probe finds ComfyUI answering after it did not (or at first).
    package var onReachable: (() -> Void)?
    private let api: ComfyAPI
    private let logger: Logger
    private let interval: Duration
    private let maxRetryDelay: Duration

    /// - Parameters:
    ///   - interval: the pace of probes while ComfyUI answers.
    ///   - maxRetryDelay: the longest wait between probes while it does not (from 1 s, doubling).
    package init(
        api: ComfyAPI, logger: Logger, interval: Duration = .seconds(10), maxRetryDelay: Duration = .seconds(30)
    ) {
        self.api = api
        self.logger = logger
        self.interval = interval
        self.maxRetryDelay = maxRetryDelay
    }

    /// Probes until the task is cancelled.
    package func run() async {
        var failures = 0
        while !Task.isCancelled {
            await probe()
            let delay: Duration
            if case .unreachable = state {
                delay = min(.seconds(1) * Int(1 << min(failures, 10)), maxRetryDelay)
                failures += 1
            } else {
                delay = interval
                failures = 0
            }
            try? await Task.sleep(for: delay)
        }
    }

    /// Whether ComfyUI answered the last probe and that probe is recent (within three intervals);
    /// otherwise the `CONNECTION_ERROR` that says why not.
    package func readiness() -> GatewayError? {
        let fresh = lastCheck.map { ContinuousClock.now - $0 <= interval * 3 } ?? false
        let reason: String
        switch state {
        case .reachable where fresh: return nil
        case .reachable: reason = "no recent answer to the readiness probe"
        case .unknown: reason = "not checked yet"
        case .unreachable(let why): reason = why
        }
        return GatewayError(
            .connectionError, status: 503, message: "ComfyUI at \(api.baseURL) is not ready: \(reason).",
            details: ["upstream": .string(api.baseURL), "reason": .string(reason)])
    }

    /// The upstream's base URL.
    package var upstream: String { api.baseURL }

    /// Asks ComfyUI once and logs a change of state. Probes may overlap (a scheduled one and one
    /// for a socket change): each compares with the state when it ends, so a change is logged once.
    package func probe() async {
        do {
            let stats = try await api.systemStats()
            let previous = state
            state = .reachable
            if previous != .reachable { onReachable?() }
            if previous != .reachable {
                let version = stats["system"]?["comfyui_version"]?.stringValue ?? "unknown version"
                logger.info("ComfyUI at \(api.baseURL) is reachable (ComfyUI \(version))")
            }
        } catch {
            let reason = error.details["reason"]?.stringValue ?? error.message
            let previous = state
            state = .unreachable(reason: reason)
            if case .unreachable = previous {
                logger.debug("ComfyUI at \(api.baseURL) is still unreachable: \(reason)")
            } else {
                logger.error(
                    """
                    ComfyUI at \(api.baseURL) is not reachable (\(reason)); requests that need it answer \
                    \(error.status) \(error.code.rawValue) until it is; retrying every 1-\(maxRetryDelay.components.seconds) s
                    """)
            }
        }
        lastCheck = .now
    }
}

extension UpstreamMonitor {
    /// A monitor of the backend over its probe connection (probes never wait behind other calls).
    package convenience init(backend: ComfyBackend, logger: Logger) {
        self.init(api: backend.probe, logger: logger)
    }
}
