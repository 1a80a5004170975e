package import Models
import Prometheus
package import Routing

/// The gateway's Prometheus metrics: a swift-prometheus registry, the swift-metrics factory the
/// request metrics are made with (`HTTPMetrics`), and the gauges and counters read from the
/// server and the service at each scrape. Served as the text exposition format by `/metrics`.
///
/// Counters kept elsewhere as running totals (sessions, traffic, ended jobs) are carried over
/// by the increase since the previous scrape, so they stay true Prometheus counters. Loop-bound
/// (scrapes run on the loop).
/// `@unchecked Sendable`: the `/metrics` route holds it; scrapes run on the loop.
package final class GatewayMetrics: @unchecked Sendable {
    /// The request counters and latency histogram, for `MetricsMiddleware`.
    package let http: HTTPMetrics
    private let registry: PrometheusCollectorRegistry
    private let openConnections: Gauge
    private let subscribers: Gauge
    private let upstreamConnected: Gauge
    private let upstreamReady: Gauge
    private let jobs: [String: Gauge]
    private var totals: [String: (counter: Counter, reported: Int)] = [:]

    /// Outcomes of a followed prompt, each always exported (0 until it happens).
    static let jobOutcomes = ["success", "error", "interrupted", "lost"]

    package init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        http = HTTPMetrics(factory: factory)
        openConnections = registry.makeGauge(
            descriptor: Self.named("open_connections", help: "Client connections open now, WebSockets included."))
        subscribers = registry.makeGauge(
            descriptor: Self.named("websocket_subscribers", help: "Gateway WebSockets (/ws) open now."))
        upstreamConnected = registry.makeGauge(
            descriptor: Self.named(
                "upstream_connected", help: "1 while the gateway's WebSocket to ComfyUI is connected."))
        upstreamReady = registry.makeGauge(
            descriptor: Self.named("upstream_ready", help: "1 while ComfyUI answered the last readiness probe."))
        jobs = Dictionary(
            uniqueKeysWithValues: ["pending", "running"].map { state in
                (
                    state,
                    registry.makeGauge(
                        descriptor: Self.named("jobs", help: "Prompts the gateway follows, by state in ComfyUI."),
                        labels: [("state", state)])
                )
            })
        for outcome in Self.jobOutcomes {
            register(
                "jobs/\(outcome)", name: "jobs_finished_total", labels: [("state", outcome)],
                help: "Followed prompts that ended, by outcome.")
        }
        register(
            "dropped", name: "websocket_messages_dropped_total", labels: [],
            help: "Messages not delivered because their WebSocket was closing.")
        register(
            "slow", name: "websocket_slow_closed_total", labels: [],
            help: "WebSockets closed with 1008 because they did not keep up.")
        register(
            "bytes/http", name: "streamed_bytes_total", labels: [("kind", "http_body")],
            help: "Bytes streamed to clients: streamed response bodies and WebSocket frames.")
        register(
            "bytes/websocket", name: "streamed_bytes_total", labels: [("kind", "websocket")],
            help: "Bytes streamed to clients: streamed response bodies and WebSocket frames.")
    }

    private func register(_ key: String, name: String, labels: [(String, String)], help: String) {
        totals[key] = (registry.makeCounter(descriptor: Self.named(name, help: help), labels: labels), 0)
    }

    /// `comfy_gateway_<name>`, with its `# HELP` text.
    private static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "comfy_gateway", metricName: name, unitName: "", helpText: help)
    }

    private func carry(_ key: String, _ total: Int) {
        guard let entry = totals[key], total > entry.reported else { return }
        entry.counter.increment(by: Int64(total - entry.reported))
        totals[key]?.reported = total
    }

    /// The exposition text, after reading the current values. Call on the loop.
    package func scrape(server: HTTPServer, stats: GatewayStats) -> [UInt8] {
        openConnections.set(Double(server.connectionCount))
        subscribers.set(Double(stats.webSocketSubscribers))
        upstreamConnected.set(stats.upstreamSocketConnected ? 1.0 : 0.0)
        upstreamReady.set(stats.upstreamReachable ? 1.0 : 0.0)
        jobs["pending"]?.set(Double(stats.jobsPending))
        jobs["running"]?.set(Double(stats.jobsRunning))
        for outcome in Self.jobOutcomes { carry("jobs/\(outcome)", stats.jobsEnded[outcome] ?? 0) }
        carry("dropped", stats.messagesDropped)
        carry("slow", stats.slowSocketsClosed)
        carry("bytes/http", server.traffic.streamedBodyBytes)
        carry("bytes/websocket", server.traffic.webSocketBytes)
        return registry.emitToBuffer()
    }
}
