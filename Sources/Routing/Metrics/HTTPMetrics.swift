package import CoreMetrics
import Synchronization

/// The server's request metrics, made through swift-metrics from the factory it is given:
/// `comfy_gateway_http_requests_total{route, method, status}` and the latency histogram
/// `comfy_gateway_http_request_duration_seconds{route, method}`. Routes are labelled by their
/// pattern (`/api/v1/workflows/:prompt_id`), never the raw path, so the label set stays
/// bounded; requests no route matched are labelled `unmatched`.
///
/// Metric objects are made once per label set and kept: a request costs one dictionary lookup
/// (route and method) under an uncontended lock, a small lookup by status, and two updates.
package final class HTTPMetrics: Sendable {
    private struct RouteKey: Hashable {
        let route: String
        let method: String
    }

    /// The metrics of one route and method: its latency, and its count per status.
    private struct RouteSeries {
        let timer: CoreMetrics.Timer
        var counters: [Int: Counter] = [:]
    }

    private let factory: any MetricsFactory
    private let series = Mutex<[RouteKey: RouteSeries]>([:])

    package init(factory: any MetricsFactory) {
        self.factory = factory
    }

    package func record(route: String, method: String, status: Int, duration: Duration) {
        let key = RouteKey(route: route.isEmpty ? "unmatched" : route, method: Self.label(method))
        let factory = factory
        let (counter, timer) = series.withLock { series in
            Self.metrics(
                for: status, in: &series[key, default: RouteSeries(timer: Self.timer(for: key, factory: factory))],
                key: key, factory: factory)
        }
        counter.increment()
        timer.recordNanoseconds(duration.nanoseconds)
    }

    /// The counter for `status` (made on its first request) and the timer of `entry`.
    private static func metrics(
        for status: Int, in entry: inout RouteSeries, key: RouteKey, factory: any MetricsFactory
    ) -> (Counter, CoreMetrics.Timer) {
        if let counter = entry.counters[status] { return (counter, entry.timer) }
        let counter = Counter(
            label: "comfy_gateway_http_requests_total",
            dimensions: [("route", key.route), ("method", key.method), ("status", String(status))], factory: factory)
        entry.counters[status] = counter
        return (counter, entry.timer)
    }

    private static func timer(for key: RouteKey, factory: any MetricsFactory) -> CoreMetrics.Timer {
        CoreMetrics.Timer(
            label: "comfy_gateway_http_request_duration_seconds",
            dimensions: [("route", key.route), ("method", key.method)], factory: factory)
    }

    /// The method as a label: the standard ones as they are, anything else `other` (a client
    /// cannot grow the label set).
    private static func label(_ method: String) -> String {
        switch method {
        case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS": method
        default: "other"
        }
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
