import Codecs
import Models
import Routing

extension Response {
    /// A 200 (or `status`) JSON response for an API body (written off the loop when large).
    static func api(_ body: some APIResponse, status: Int = 200) async -> Response {
        var response = Response(status: status, body: .bytes(await body.json.serialize()))
        response.setHeader("Content-Type", "application/json; charset=utf-8")
        return response
    }
}
