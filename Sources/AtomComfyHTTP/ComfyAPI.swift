package import Client
import Models
import Reactor

/// Typed calls to ComfyUI's REST routes (`docs/comfyui.md`, "REST routes") over the pooled
/// `HTTPClient`, with every failure turned into the API's error codes:
/// - refused, reset or unreachable: `CONNECTION_ERROR` (502), `details.upstream` = the base URL;
/// - no answer within the client's request timeout: `TASK_TIMEOUT` (504);
/// - a prompt ComfyUI rejects (400 with `node_errors`): `WORKFLOW_VALIDATION_ERROR` with
///   ComfyUI's `error` and `node_errors` unchanged in `details`;
/// - any other unexpected answer: `QUEUE_OPERATION_ERROR` for queue, history and interrupt calls,
///   `FILE_OPERATION_ERROR` or `IMAGE_NOT_FOUND` for files, `INTERNAL_ERROR` otherwise, with
///   `details.upstream_status`.
///
/// Loop-bound, like the client: call it from tasks on the client's loop.
package struct ComfyAPI: Sendable {
    package let client: HTTPClient
    /// The upstream's base URL, as errors report it (`http://127.0.0.1:8188`).
    package let baseURL: String
    /// The path ComfyUI is mounted under behind a reverse proxy (`/comfy`), or empty: every
    /// request target is prefixed with it.
    package let pathPrefix: String
    /// The largest JSON answer read (`/object_info` runs to several MB).
    package var maxResponseBytes = 64 * 1024 * 1024
    /// Whether this ComfyUI has the `/api/jobs` routes, once asked (`hasJobRoutes()`).
    let jobRoutes = Locked<Bool?>(nil)

    /// How long the request that has waited longest for a free pooled connection has waited
    /// (zero when none waits): a pool whose connections are all stuck shows here.
    package var longestPoolWait: Duration { client.longestWait }

    /// How many requests wait for a free pooled connection.
    package var poolWaiters: Int { client.waitingRequests }

    /// - Parameter pathPrefix: the mount path (`/comfy`, no trailing slash), empty for none.
    package init(client: HTTPClient, pathPrefix: String = "") {
        self.client = client
        self.pathPrefix = pathPrefix
        let configuration = client.configuration
        baseURL = "http://\(configuration.hostHeader)\(pathPrefix)"
    }
}
