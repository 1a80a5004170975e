package import Codecs

/// The error codes of `docs/api-contract.md` ("Errors"), each with the HTTP status it is answered
/// with.
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
    case internalError = "INTERNAL_ERROR"

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
        case .unsupportedMediaType: 415
        case .methodNotAllowed: 405
        case .unauthorized: 401
        case .websocketError: 400
        case .internalError: 500
        }
    }
}

/// An error of the gateway's own, in API vocabulary: a code, a sentence, machine-readable details
/// (any JSON object: ComfyUI's `node_errors` are passed on unchanged).
package struct GatewayError: Error, Sendable, Equatable {
    package var code: ErrorCode
    package var status: Int
    package var message: String
    package var details: [String: JSONValue]

    package init(_ code: ErrorCode, status: Int? = nil, message: String, details: [String: JSONValue] = [:]) {
        self.code = code
        self.status = status ?? code.defaultStatus
        self.message = message
        self.details = details
    }
}
