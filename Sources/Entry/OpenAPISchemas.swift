import Codecs
import Models

/// The component schemas of the OpenAPI document: every body the API sends or accepts.
enum OpenAPISchemas {
    static func reference(_ name: String) -> JSONValue {
        ["$ref": .string("#/components/schemas/\(name)")]
    }

    private static let string: JSONValue = ["type": "string"]
    private static let integer: JSONValue = ["type": "integer"]
    private static let anyObject: JSONValue = ["type": "object"]
    private static let status: JSONValue = [
        "type": "string", "enum": .array(WorkflowStatus.allCases.map { .string($0.rawValue) }),
    ]
    private static let timestamp: JSONValue = ["type": "string", "format": "date-time"]

    private static func object(_ properties: [String: JSONValue], required: [String], description: String = "")
        -> JSONValue
    {
        var schema: [String: JSONValue] = [
            "type": "object", "properties": .object(properties), "required": .array(required.map(JSONValue.string)),
        ]
        if !description.isEmpty { schema["description"] = .string(description) }
        return .object(schema)
    }

    private static func nullable(_ schema: JSONValue) -> JSONValue {
        ["anyOf": [schema, ["type": "null"]]]
    }

    static let all: [String: JSONValue] = [
        "ErrorResponse": object(
            [
                "error": object(
                    [
                        "code": [
                            "type": "string", "enum": .array(ErrorCode.routeCodes.map { .string($0.rawValue) }),
                        ],
                        "message": string, "details": anyObject, "request_id": string,
                    ], required: ["code", "message", "details", "request_id"])
            ], required: ["error"], description: "The one error shape of every route."),
        "Health": object(["status": ["type": "string", "enum": ["ok"]]], required: ["status"]),
        "Readiness": object(
            ["status": ["type": "string", "enum": ["ready"]], "comfyui": ["type": "string", "format": "uri"]],
            required: ["status", "comfyui"]),
        "WorkflowSubmitRequest": object(
            [
                "workflow": [
                    "type": "object", "minProperties": 1,
                    "description":
                        "API-format graph: node id -> {class_type, inputs}; links ([node_id, output]) must name nodes of the graph.",
                    "additionalProperties": object(
                        ["class_type": ["type": "string", "minLength": 1], "inputs": anyObject],
                        required: ["class_type", "inputs"]),
                ],
                "client_id": ["type": "string", "minLength": 1, "maxLength": 256],
                "extra_data": anyObject, "front": ["type": "boolean", "default": false],
            ], required: ["workflow"]),
        "WorkflowSubmission": object(
            [
                "prompt_id": string, "number": integer, "client_id": string,
                "status": ["type": "string", "enum": ["queued"]], "node_errors": anyObject,
            ], required: ["prompt_id", "number", "client_id", "status"]),
        "ExecutionError": object(
            [
                "code": ["type": "string", "enum": ["WORKFLOW_EXECUTION_ERROR"]], "message": string,
                "details": object(
                    [
                        "node_id": nullable(string), "node_type": nullable(string), "exception_type": nullable(string),
                        "exception_message": nullable(string), "traceback": ["type": "array", "items": string],
                    ], required: ["node_id", "node_type", "exception_type", "exception_message", "traceback"]),
            ], required: ["code", "message", "details"]),
        "WorkflowHistory": object(
            [
                "prompt_id": string, "status": status,
                "queue_position": nullable(["type": "integer", "minimum": 0]),
                "outputs": anyObject, "messages": ["type": "array", "items": ["type": "array"]],
                "error": nullable(reference("ExecutionError")), "history": nullable(anyObject),
            ], required: ["prompt_id", "status", "queue_position", "outputs", "messages", "error", "history"]),
        "ImageEntry": object(
            [
                "node_id": string, "filename": string, "subfolder": string,
                "type": ["type": "string", "enum": ["output", "input", "temp"]],
                "url": ["type": "string", "format": "uri"],
            ], required: ["node_id", "filename", "subfolder", "type", "url"]),
        "WorkflowImages": object(
            ["prompt_id": string, "status": status, "images": ["type": "array", "items": reference("ImageEntry")]],
            required: ["prompt_id", "status", "images"]),
        "InterruptRequest": object(["prompt_id": nullable(["type": "string", "minLength": 1])], required: []),
        "InterruptResult": object(
            [
                "prompt_id": nullable(string),
                "action": ["type": "string", "enum": ["interrupted", "removed_from_queue"]],
            ], required: ["prompt_id", "action"]),
        "QueueEntry": object(
            ["number": integer, "prompt_id": string, "client_id": nullable(string)],
            required: ["number", "prompt_id", "client_id"]),
        "QueueStatus": object(
            [
                "running": ["type": "array", "items": reference("QueueEntry")],
                "pending": ["type": "array", "items": reference("QueueEntry")],
                "running_count": integer, "pending_count": integer,
            ], required: ["running", "pending", "running_count", "pending_count"]),
        "QueueClearRequest": [
            "type": "object", "description": "`clear: true`, or `delete`, or both.",
            "properties": [
                "clear": nullable(["type": "boolean"]), "delete": nullable(["type": "array", "items": string]),
            ],
            "anyOf": [
                ["required": ["clear"], "properties": ["clear": ["const": true]]],
                ["required": ["delete"], "properties": ["delete": ["type": "array"]]],
            ],
        ],
        "QueueClearResult": object(
            ["cleared": ["type": "boolean"], "removed": integer], required: ["cleared", "removed"]),
        "UploadForm": object(
            [
                "file": ["type": "string", "format": "binary", "description": "PNG, JPEG, WebP or GIF."],
                "overwrite": ["type": "boolean", "default": false],
                "subfolder": ["type": "string", "pattern": .string(ImageRoutes.subfolderPattern)],
                "type": ["type": "string", "enum": ["input", "temp"], "default": "input"],
            ], required: ["file"]),
        "UploadResult": object(
            [
                "name": string, "subfolder": string, "type": ["type": "string", "enum": ["input", "temp"]],
                "size": integer, "url": ["type": "string", "format": "uri"],
            ], required: ["name", "subfolder", "type", "size", "url"]),
        "Job": object(
            [
                "id": string, "client_id": string, "status": status, "backend": string,
                "queue_position": nullable(["type": "integer", "minimum": 0]), "created_at": timestamp,
                "started_at": nullable(timestamp), "finished_at": nullable(timestamp), "outputs": anyObject,
                "images": ["type": "array", "items": reference("ImageEntry")],
                "error": nullable(reference("ExecutionError")), "webhook": nullable(anyObject),
            ],
            required: [
                "id", "client_id", "status", "backend", "queue_position", "created_at", "started_at", "finished_at",
                "outputs", "images", "error", "webhook",
            ], description: "A job as the ledger keeps it (times in RFC 3339 UTC)."),
        "JobList": object(
            ["jobs": ["type": "array", "items": reference("Job")], "next_cursor": nullable(string)],
            required: ["jobs", "next_cursor"]),
        "ImageURLs": object(
            ["url": ["type": "string", "format": "uri"], "comfyui_url": ["type": "string", "format": "uri"]],
            required: ["url", "comfyui_url"]),
    ]
}
