package import Models
package import Routing

/// Entry is where gateway errors become HTTP responses in the API's error shape.
extension GatewayError: HTTPResponseError {
    package func makeResponse(requestID: String) -> Response {
        HTTPError.response(
            status: status, code: code.rawValue, message: message, details: details, requestID: requestID)
    }
}
