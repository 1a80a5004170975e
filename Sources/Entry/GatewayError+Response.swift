import Codecs
package import Models
package import Routing

/// Entry is where gateway errors become HTTP responses in the API's error shape; an error that
/// says when to try again (`details.retry_after`, seconds) carries `Retry-After` too.
extension GatewayError: HTTPResponseError {
    package func makeResponse(requestID: String) -> Response {
        var response = HTTPError.response(
            status: status, code: code.rawValue, message: message, details: details, requestID: requestID)
        if let seconds = details["retry_after"]?.intValue { response.setHeader("Retry-After", "\(seconds)") }
        return response
    }
}
