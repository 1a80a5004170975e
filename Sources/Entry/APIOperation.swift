import Codecs
import Models
import Routing

/// One operation of the API: the route the server answers and, from the same value, its entry in
/// the OpenAPI document, so the two cannot drift apart.
struct APIOperation: Sendable {
    /// The methods the API uses.
    enum Method: String, Sendable {
        case get, post
    }

    /// One documented response.
    struct Reply: Sendable {
        let status: Int
        let description: String
        /// The `content` object of the response, nil for none.
        let content: JSONValue?
        let headers: JSONValue?

        /// A JSON body of the component schema `schema`.
        static func json(_ status: Int, _ description: String, schema: String) -> Reply {
            Reply(
                status: status, description: description,
                content: ["application/json": ["schema": OpenAPISchemas.reference(schema)]], headers: nil)
        }

        /// An error in the API's error shape.
        static func error(_ status: Int, _ description: String) -> Reply {
            json(status, description, schema: "ErrorResponse")
        }
    }

    let method: Method
    /// The path in OpenAPI form (`/api/v1/workflows/{prompt_id}/history`).
    let path: String
    let operationID: String
    let tag: String
    let summary: String
    var description = ""
    var parameters: [JSONValue] = []
    var requestBody: JSONValue?
    var replies: [Reply]
    /// The body limit of the route (the server's default when nil).
    var maxBodyBytes: Int?
    /// True for the routes that need no API key (`/health`, `/ready`).
    var isOpen = false
    /// The handler, for an operation that may suspend (it talks to ComfyUI, reads a body).
    var handler: Responder?
    /// The handler, for an operation that answers from memory without suspending: the server
    /// runs it without a task (set this or `handler`).
    var immediate: ImmediateResponder?

    /// The path as a router pattern (`/api/v1/workflows/:prompt_id/history`).
    var routerPattern: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
    }

    /// The errors any route that talks to ComfyUI may answer.
    static let upstreamErrors: [Reply] = [
        .error(500, "INTERNAL_ERROR: an unexpected failure."),
        .error(502, "CONNECTION_ERROR: ComfyUI is not reachable (`details.upstream` is its base URL)."),
        .error(504, "TASK_TIMEOUT: ComfyUI did not answer within COMFYUI_TIMEOUT."),
    ]

    /// The errors of a route with a JSON body.
    static let bodyErrors: [Reply] = [
        .error(400, "INVALID_REQUEST: the body is not a JSON object."),
        .error(413, "PAYLOAD_TOO_LARGE: the body is over the route's limit."),
        .error(422, "INVALID_REQUEST: the body does not match the schema (`details.fields`)."),
    ]

    /// A query parameter.
    static func query(
        _ name: String, _ description: String, required: Bool = false, schema: JSONValue = ["type": "string"]
    )
        -> JSONValue
    {
        [
            "name": .string(name), "in": "query", "required": .bool(required), "description": .string(description),
            "schema": schema,
        ]
    }

    /// A path parameter.
    static func pathParameter(_ name: String, _ description: String) -> JSONValue {
        [
            "name": .string(name), "in": "path", "required": true, "description": .string(description),
            "schema": ["type": "string"],
        ]
    }

    /// A required JSON request body of the component schema `schema`.
    static func jsonBody(_ schema: String, required: Bool = true) -> JSONValue {
        ["required": .bool(required), "content": ["application/json": ["schema": OpenAPISchemas.reference(schema)]]]
    }
}
