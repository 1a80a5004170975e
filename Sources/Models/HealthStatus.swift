package import Codecs

/// The body of `GET /health`: `{"status": "ok"}` while the process serves.
package struct HealthStatus: APIResponse, Equatable {
    package var status: String

    package init(status: String = "ok") {
        self.status = status
    }

    package var json: JSONValue { ["status": .string(status)] }
}
