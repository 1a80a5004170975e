/// The error codes of `docs/api-contract.md` ("Errors"), each with the HTTP status it is answered
/// with: the API's codes, and the two the HTTP server answers with on its own, outside any route.
/// The one list: the gateway's errors, the server's and the socket's all spell their codes here.
package enum ErrorCode: String, Sendable, CaseIterable {
    case connectionError = "CONNECTION_ERROR"
    case taskTimeout = "TASK_TIMEOUT"
    case workflowValidationError = "WORKFLOW_VALIDATION_ERROR"
    case workflowExecutionError = "WORKFLOW_EXECUTION_ERROR"
    case workflowNotFound = "WORKFLOW_NOT_FOUND"
    case queueOperationError = "QUEUE_OPERATION_ERROR"
    case fileOperationError = "FILE_OPERATION_ERROR"
    case imageNotFound = "IMAGE_NOT_FOUND"
    case invalidRequest = "INVALID_REQUEST"
    case queueFull = "QUEUE_FULL"
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case unsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
    case notFound = "NOT_FOUND"
    case methodNotAllowed = "METHOD_NOT_ALLOWED"
    case unauthorized = "UNAUTHORIZED"
    case websocketError = "WEBSOCKET_ERROR"
    /// An `Idempotency-Key` reused with another body.
    case idempotencyConflict = "IDEMPOTENCY_CONFLICT"
    case internalError = "INTERNAL_ERROR"
    /// The server's own: a request that did not arrive in time.
    case requestTimeout = "REQUEST_TIMEOUT"
    /// Over the server's connection limit, shutting down, or (on submit) the job ledger cannot
    /// record the job.
    case serviceUnavailable = "SERVICE_UNAVAILABLE"

    /// The codes the API's routes answer with: the OpenAPI document's enum (the server's own
    /// request timeout is described beside it, since no route raises it).
    package static let routeCodes = allCases.filter { $0 != .requestTimeout }

    /// The usual HTTP status (some codes have a second one, chosen where they are raised).
    package var defaultStatus: Int {
        switch self {
        case .connectionError, .queueOperationError: 502
        case .taskTimeout: 504
        case .workflowValidationError, .fileOperationError, .invalidRequest: 400
        case .workflowExecutionError: 200
        case .workflowNotFound, .imageNotFound, .notFound: 404
        case .payloadTooLarge: 413
        case .queueFull: 429
        case .idempotencyConflict: 409
        case .unsupportedMediaType: 415
        case .methodNotAllowed: 405
        case .unauthorized: 401
        case .websocketError: 400
        case .internalError: 500
        case .requestTimeout: 408
        case .serviceUnavailable: 503
        }
    }
}
