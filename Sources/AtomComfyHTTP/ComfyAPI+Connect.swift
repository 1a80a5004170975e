import Client
import Codecs
package import Reactor

extension ComfyAPI {
    /// A client for the ComfyUI at `baseURL` (`http://host:port[/path]`) with its own connection
    /// pool on `loop`: at most `maxConnections` connections, `timeoutSeconds` to wait for an answer.
    package init(baseURL: String, timeoutSeconds: Double, maxConnections: Int = 16, loop: EventLoop) {
        let url = EndpointURL(baseURL)
        self.init(
            host: url?.host ?? baseURL, port: url?.port ?? 80, pathPrefix: url?.path ?? "",
            timeoutSeconds: timeoutSeconds,
            maxConnections: maxConnections, loop: loop)
    }

    /// A client for the ComfyUI at `host`:`port` under `pathPrefix`, already parsed.
    package init(
        host: String, port: Int, pathPrefix: String, timeoutSeconds: Double, maxConnections: Int = 16,
        loop: EventLoop
    ) {
        var configuration = HTTPClient.Configuration(host: host, port: port)
        configuration.maxConnections = maxConnections
        configuration.requestTimeout = .milliseconds(Int64(timeoutSeconds * 1000))
        configuration.connectTimeout = .milliseconds(Int64(min(timeoutSeconds, 10) * 1000))
        self.init(client: HTTPClient(loop: loop, configuration: configuration), pathPrefix: pathPrefix)
    }
}

extension ComfyAPI {
    /// Closes the pooled connections; calls after this fail. Call on the loop.
    package func shutdown() {
        client.shutdown()
    }

    /// The loop the calls run on (the executor a task calling them should prefer).
    package var loop: EventLoop { client.loop }
}
