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
            paths[operation.path, default: [:]][operation.method.rawValue] = .object(entry)
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": .string(configuration.appName), "version": .string(configuration.appVersion),
                "description": .string(
                    "HTTP + WebSocket gateway in front of ComfyUI. Every error has the shape of ErrorResponse.\n"
                        + WebSocketRoutes.documentation),
            ],
            "paths": .object(paths.mapValues(JSONValue.object)),
            "components": ["schemas": .object(OpenAPISchemas.all)],
            "tags": [
                ["name": "workflows"], ["name": "queue"], ["name": "images"], ["name": "websocket"],
                ["name": "operations"],
            ],
        ]
    }
}
