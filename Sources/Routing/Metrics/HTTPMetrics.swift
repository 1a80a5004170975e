package import CoreMetrics
import Synchronization

/// The server's request metrics, made through swift-metrics from the factory it is given:
/// `comfy_gateway_http_requests_total{route, method, status}` and the latency histogram
/// `comfy_gateway_http_request_duration_seconds{route, method}`. Routes are labelled by their
/// pattern (`/api/v1/workflows/:prompt_id`), never the raw path, so the label set stays
/// bounded; requests no route matched are labelled `unmatched`.
///
/// Metric objects are made once per label set and kept, so a request costs two dictionary
/// lookups under an uncontended lock and two atomic updates.
package final class HTTPMetrics: Sendable {
    private struct CounterKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    private struct TimerKey: Hashable {
        let route: String
        let method: String
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[CounterKey: Counter]>([:])
    private let timers = Mutex<[TimerKey: CoreMetrics.Timer]>([:])

    /// Methods labelled by name; any other is `other`, so a client cannot mint label values.
    private static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    package init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Counts one answered request and records how long the handler took to answer.
    package func record(route: String, method: String, status: Int, duration: Duration) {
        let route = route.isEmpty ? "unmatched" : route
        let method = Self.knownMethods.contains(method) ? method : "other"
        let counterKey = CounterKey(route: route, method: method, status: status)
        let counter = counters.withLock { counters in
            if let counter = counters[counterKey] { return counter }
            let counter = Counter(
                label: "comfy_gateway_http_requests_total",
                dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory)
            counters[counterKey] = counter
            return counter
        }
        counter.increment()
        let timerKey = TimerKey(route: route, method: method)
        let timer = timers.withLock { timers in
            if let timer = timers[timerKey] { return timer }
            let timer = CoreMetrics.Timer(
                label: "comfy_gateway_http_request_duration_seconds",
                dimensions: [("route", route), ("method", method)],
                factory: factory)
            timers[timerKey] = timer
            return timer
        }
        timer.recordNanoseconds(duration.nanoseconds)
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
