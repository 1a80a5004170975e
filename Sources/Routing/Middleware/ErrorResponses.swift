import Codecs
import Logging

/// Turns what a handler throws into a response in the API's error shape: `HTTPResponseError`s
/// render themselves, a body over its limit is 413, one too slow 408, a malformed or cut-short
/// one 400, and anything else is a logged 500 whose body says nothing about internals. Every
/// route's pipeline uses it (`Array<Middleware>.wrapping`).
package enum ErrorResponses {
    /// The response for `error`, thrown while answering a request with `context`.
    package static func response(for error: any Error, context: RequestContext) -> Response {
        switch error {
        case let error as any HTTPResponseError:
            return error.makeResponse(requestID: context.requestID)
        case RequestBodyError.tooLarge(let limit):
            return HTTPError.payloadTooLarge(limit: limit).makeResponse(requestID: context.requestID)
        case RequestBodyError.timedOut:
            return HTTPError.requestTimeout.makeResponse(requestID: context.requestID)
        case RequestBodyError.malformed(let reason):
            return HTTPError(status: 400, code: .invalidRequest, message: reason).makeResponse(
                requestID: context.requestID)
        case RequestBodyError.incomplete:
            return HTTPError(status: 400, code: .invalidRequest, message: "The request body ended early.")
                .makeResponse(requestID: context.requestID)
        default:
            context.logger.error(
                "unhandled error: \(String(reflecting: error))", metadata: ["request_id": "\(context.requestID)"])
            return HTTPError.internalError.makeResponse(requestID: context.requestID)
        }
    }
}
