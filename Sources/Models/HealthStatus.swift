/// The body of `GET /health`: `{"status": "ok"}` while the process serves.
package struct HealthStatus: Codable, Sendable, Equatable {
    package var status: String

    package init(status: String = "ok") {
        self.status = status
    }
}
