import Models
import Routing

extension Response {
    /// A 200 (or `status`) JSON response for an API body.
    static func api(_ body: some APIResponse, status: Int = 200) -> Response {
        var response = Response(status: status, body: .bytes(body.json.serialized()))
        response.setHeader("Content-Type", "application/json; charset=utf-8")
        return response
    }
}
