import Logging

/// Turns thrown errors into responses in the API's error shape: `HTTPResponseError`s render
/// themselves, a body over its limit is 413, and anything else is a logged 500 whose body says
/// nothing about internals.
package struct ErrorMiddleware: Middleware {
    package init() {}

    package nonisolated(nonsending) func handle(
        _ request: Request, context: RequestContext, next: Responder
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            return error.makeResponse(requestID: context.requestID)
        } catch RequestBodyError.tooLarge(let limit) {
            return HTTPError.payloadTooLarge(limit: limit).makeResponse(requestID: context.requestID)
        } catch RequestBodyError.timedOut {
            return HTTPError.requestTimeout.makeResponse(requestID: context.requestID)
        } catch RequestBodyError.malformed(let reason) {
            return HTTPError(status: 400, code: "INVALID_REQUEST", message: reason).makeResponse(
                requestID: context.requestID)
        } catch RequestBodyError.incomplete {
            return HTTPError(status: 400, code: "INVALID_REQUEST", message: "The request body ended early.")
                .makeResponse(requestID: context.requestID)
        } catch {
            context.logger.error(
                "unhandled error: \(String(reflecting: error))", metadata: ["request_id": "\(context.requestID)"])
            return HTTPError.internalError.makeResponse(requestID: context.requestID)
        }
    }
}
