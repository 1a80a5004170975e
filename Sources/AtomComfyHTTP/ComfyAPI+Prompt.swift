package import Codecs
import FoundationEssentials
package import Models

/// What ComfyUI said when it accepted a prompt.
package struct SubmittedPrompt: Sendable, Equatable {
    package let promptID: String
    /// The queue priority number (ComfyUI's counter, or the `number` given; may be fractional).
    package let number: Double
    /// Outputs that failed validation while others were queued (`{}` when none).
    package let nodeErrors: JSONValue
}

extension ComfyAPI {
    /// A fresh prompt id: a lowercase canonical UUID, the only form every ComfyUI version accepts.
    package static func newPromptID() -> String {
        UUID().uuidString.lowercased()
    }

    /// Queues `workflow` (an API-format graph) under `promptID`, with `clientID` (the gateway's
    /// upstream socket) receiving its events. A rejected prompt is `WORKFLOW_VALIDATION_ERROR`.
    package func submit(
        workflow: JSONValue, clientID: String, promptID: String = ComfyAPI.newPromptID(),
        extraData: JSONValue? = nil, front: Bool = false
    ) async throws(GatewayError) -> SubmittedPrompt {
        var body: [String: JSONValue] = [
            "prompt": workflow, "client_id": .string(clientID), "prompt_id": .string(promptID),
        ]
        if let extraData { body["extra_data"] = extraData }
        if front { body["front"] = true }
        let reply = try await exchange(.post, "/prompt", json: .object(body))
        switch reply.status {
        case 200:
            guard let json = reply.json, let id = json["prompt_id"]?.stringValue,
                let number = json["number"]?.doubleValue
            else { throw malformed(reply, .queueOperationError, "POST /prompt") }
            return SubmittedPrompt(promptID: id, number: number, nodeErrors: json["node_errors"] ?? [:])
        case 400:
            guard let json = reply.json, let error = json["error"] else {
                throw unexpected(reply, .queueOperationError, "POST /prompt")
            }
            let message = error["message"]?.stringValue ?? error.stringValue ?? "ComfyUI rejected the workflow."
            throw GatewayError(
                .workflowValidationError, message: message,
                details: ["error": error, "node_errors": json["node_errors"] ?? [:]])
        default:
            throw unexpected(reply, .queueOperationError, "POST /prompt")
        }
    }
}
