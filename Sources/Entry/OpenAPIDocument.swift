import Codecs
import Core
import Models

/// The OpenAPI 3.1 document of the gateway, built from the same operations the router serves.
enum OpenAPIDocument {
    static func build(_ operations: [APIOperation], configuration: GatewayConfiguration) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for operation in operations {
            var entry: [String: JSONValue] = [
                "operationId": .string(operation.operationID), "tags": [.string(operation.tag)],
                "summary": .string(operation.summary),
                "responses": .object(
                    Dictionary(
                        operation.replies.map { reply in
                            var object: [String: JSONValue] = ["description": .string(reply.description)]
                            if let content = reply.content { object["content"] = content }
                            if let headers = reply.headers { object["headers"] = headers }
                            return (String(reply.status), JSONValue.object(object))
                        }, uniquingKeysWith: { first, _ in first })),
            ]
            if !operation.description.isEmpty { entry["description"] = .string(operation.description) }
            if !operation.parameters.isEmpty { entry["parameters"] = .array(operation.parameters) }
            if let body = operation.requestBody { entry["requestBody"] = body }
            if !configuration.apiKeys.isEmpty {
                if operation.isOpen {
                    entry["security"] = []
                } else if case .object(var responses) = entry["responses"] {
                    responses["401"] = [
                        "description": "UNAUTHORIZED: no API key, or a wrong one (see the security schemes).",
                        "content": ["application/json": ["schema": OpenAPISchemas.reference("ErrorResponse")]],
                    ]
                    entry["responses"] = .object(responses)
                }
            }
            paths[operation.path, default: [:]][operation.method.rawValue] = .object(entry)
        }
        var document: [String: JSONValue] = [
            "openapi": "3.1.0",
            "info": [
                "title": .string(configuration.appName), "version": .string(configuration.appVersion),
                "description": .string(
                    "HTTP + WebSocket gateway in front of ComfyUI. Every error has the shape of ErrorResponse.\n"
                        + WebSocketRoutes.documentation),
            ],
            "paths": .object(paths.mapValues(JSONValue.object)),
            "components": ["schemas": .object(OpenAPISchemas.all), "securitySchemes": securitySchemes],
            "tags": [
                ["name": "workflows"], ["name": "jobs"], ["name": "queue"], ["name": "images"], ["name": "websocket"],
                ["name": "operations"],
            ],
        ]
        if !configuration.apiKeys.isEmpty {
            document["security"] = [["bearerAuth": []], ["apiKeyHeader": []]]
        }
        return .object(document)
    }

    /// The two ways to present an API key (`API_KEYS`); the WebSocket also takes `?token=`.
    static let securitySchemes: JSONValue = [
        "bearerAuth": ["type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"],
        "apiKeyHeader": ["type": "apiKey", "in": "header", "name": "X-API-Key"],
    ]
}
