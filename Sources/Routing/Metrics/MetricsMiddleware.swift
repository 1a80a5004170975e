/// Counts every request by route, method and status, and times it, in `HTTPMetrics`. It sits
/// outside the access checks, so refused requests (401, 400 preflights) are counted too.
package struct MetricsMiddleware: Middleware {
    private let metrics: HTTPMetrics

    package init(metrics: HTTPMetrics) {
        self.metrics = metrics
    }

    package func finish(_ request: Request, context: RequestContext, response: inout Response) {
        metrics.record(
            route: context.routePattern, method: request.methodName, status: response.status,
            duration: ContinuousClock.now - context.receivedAt)
    }
}
