import Codecs
package import Reactor

/// One ComfyUI as the gateway reaches it: its URL parsed once, one connection pool for JSON
/// calls, one for file transfers (a large download never holds up a status call), and a single
/// connection for the health probe (which must not queue behind either when they are busy). The
/// upstream WebSocket (AtomComfySocket) opens to the same `host`, `port` and `pathPrefix`. Every
/// molecule that talks to ComfyUI takes its connections from here: this is the unit a gateway with
/// several ComfyUI backends holds one of per backend. Loop-bound, like its clients.
package struct ComfyBackend: Sendable {
    /// The base URL as errors report it (`http://127.0.0.1:8188`, with a mount path if any).
    package let baseURL: String
    package let host: String
    package let port: Int
    /// The mount path behind a reverse proxy (`/comfy`), or empty.
    package let pathPrefix: String
    /// Queue, history, prompt and interrupt calls: up to 16 connections.
    package let json: ComfyAPI
    /// Uploads and downloads of files: up to 16 connections of their own.
    package let transfers: ComfyAPI
    /// The readiness probe's one connection.
    package let probe: ComfyAPI

    /// A backend at `baseURL` (`http://host:port[/path]`) on `loop`, waiting up to
    /// `timeoutSeconds` for an answer (the probe at most 10 s).
    package init(baseURL: String, timeoutSeconds: Double, loop: EventLoop) {
        let url = EndpointURL(baseURL)
        let (host, port, path) = (url?.host ?? baseURL, url?.port ?? 80, url?.path ?? "")
        self.host = host
        self.port = port
        pathPrefix = path
        json = ComfyAPI(host: host, port: port, pathPrefix: path, timeoutSeconds: timeoutSeconds, loop: loop)
        transfers = ComfyAPI(host: host, port: port, pathPrefix: path, timeoutSeconds: timeoutSeconds, loop: loop)
        probe = ComfyAPI(
            host: host, port: port, pathPrefix: path, timeoutSeconds: min(timeoutSeconds, 10), maxConnections: 1,
            loop: loop)
        self.baseURL = json.baseURL
    }

    /// Closes every connection of the three pools. Call on the loop, at shutdown.
    package func shutdown() {
        json.shutdown()
        transfers.shutdown()
        probe.shutdown()
    }
}
