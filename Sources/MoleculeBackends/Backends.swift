// MoleculeBackends (L3): the ComfyUI backends the gateway talks to, over AtomComfyHTTP. Never
// imports another molecule; the coordinators hand its backends to the molecules that need them.

package import AtomComfyHTTP
package import Core
package import Reactor

/// The ComfyUI instances behind the gateway, each one `ComfyBackend` (its connection pools, its
/// URL parsed once). Today there is one, from `COMFYUI_URL`, named `b0`; placing jobs across
/// several comes with the backends work. Loop-bound.
package struct Backends: Sendable {
    /// The backend every job goes to.
    package let primary: ComfyBackend
    /// Its name in logs and job records.
    package let primaryName = "b0"

    /// The configured backend on `loop`.
    package init(configuration: GatewayConfiguration, loop: EventLoop) {
        primary = ComfyBackend(
            baseURL: configuration.comfyURL, timeoutSeconds: configuration.comfyTimeoutSeconds, loop: loop)
    }

    /// The wait of the request queued longest for a pooled connection to a backend (JSON calls
    /// or transfers), and how many requests wait in that pool.
    package var connectionWait: (longest: Duration, waiting: Int) {
        let pools = [primary.json, primary.transfers]
        let worst = pools.max { $0.longestPoolWait < $1.longestPoolWait } ?? primary.json
        return (worst.longestPoolWait, worst.poolWaiters)
    }

    /// Closes every connection to every backend. Call on the loop, at shutdown.
    package func shutdown() {
        primary.shutdown()
    }
}
