package import Codecs

/// `POST /api/v1/workflows/submit`, as the client sent it (already checked for types).
package struct WorkflowSubmitRequest: Sendable {
    /// The key in `extra_data` where the gateway keeps the caller's client id (ComfyUI's own
    /// `client_id` is the gateway's upstream socket).
    package static let clientIDKey = "gateway_client_id"

    /// The API-format graph (node id -> `{class_type, inputs}`).
    package var workflow: JSONValue
    package var clientID: String?
    package var extraData: [String: JSONValue]?
    package var front: Bool

    package init(
        workflow: JSONValue, clientID: String? = nil, extraData: [String: JSONValue]? = nil, front: Bool = false
    ) {
        self.workflow = workflow
        self.clientID = clientID
        self.extraData = extraData
        self.front = front
    }
}

/// A queued prompt: `{"prompt_id", "number", "client_id", "status": "queued"}` (+ `node_errors`
/// when ComfyUI reported some for outputs it left out).
package struct WorkflowSubmission: APIResponse, Equatable {
    package var promptID: String
    package var number: Int
    package var clientID: String
    package var nodeErrors: JSONValue

    package init(promptID: String, number: Int, clientID: String, nodeErrors: JSONValue) {
        self.promptID = promptID
        self.number = number
        self.clientID = clientID
        self.nodeErrors = nodeErrors
    }

    package var json: JSONValue {
        var object: [String: JSONValue] = [
            "prompt_id": .string(promptID), "number": .int(Int64(number)), "client_id": .string(clientID),
            "status": "queued",
        ]
        if let errors = nodeErrors.objectValue, !errors.isEmpty { object["node_errors"] = nodeErrors }
        return .object(object)
    }
}

/// Where a prompt is in its life. `lost`: ComfyUI forgot the prompt before it reported an end
/// (restarted, or the prompt was deleted behind the gateway's back); only the ledger knows it.
package enum WorkflowStatus: String, Sendable, CaseIterable {
    case pending, running, success, error, interrupted, lost

    /// Whether the prompt has ended; an ended prompt never changes again.
    package var isFinished: Bool { self != .pending && self != .running }
}

/// `GET /api/v1/workflows/{prompt_id}/history`.
package struct WorkflowHistory: APIResponse, Equatable {
    package var promptID: String
    package var status: WorkflowStatus
    /// 0 while running, n for the n-th pending prompt in run order, nil once finished.
    package var queuePosition: Int?
    package var outputs: JSONValue
    package var messages: JSONValue
    /// The `WORKFLOW_EXECUTION_ERROR` object when the run failed.
    package var error: JSONValue
    /// ComfyUI's raw history item, once finished.
    package var history: JSONValue

    package init(
        promptID: String, status: WorkflowStatus, queuePosition: Int? = nil, outputs: JSONValue = [:],
        messages: JSONValue = [], error: JSONValue = .null, history: JSONValue = .null
    ) {
        self.promptID = promptID
        self.status = status
        self.queuePosition = queuePosition
        self.outputs = outputs
        self.messages = messages
        self.error = error
        self.history = history
    }

    package var json: JSONValue {
        [
            "prompt_id": .string(promptID), "status": .string(status.rawValue),
            "queue_position": queuePosition.jsonValue, "outputs": outputs, "messages": messages, "error": error,
            "history": history,
        ]
    }
}

/// A file a prompt produced, as ComfyUI names it.
package struct OutputFile: Sendable, Equatable {
    package var nodeID: String
    package var location: FileLocation

    package init(nodeID: String, location: FileLocation) {
        self.nodeID = nodeID
        self.location = location
    }
}

/// `GET /api/v1/workflows/{prompt_id}/images`: each file with its gateway download URL.
package struct WorkflowImages: APIResponse, Equatable {
    package var promptID: String
    package var status: WorkflowStatus
    package var images: [(file: OutputFile, url: String)]

    package init(promptID: String, status: WorkflowStatus, images: [(file: OutputFile, url: String)]) {
        self.promptID = promptID
        self.status = status
        self.images = images
    }

    package var json: JSONValue {
        [
            "prompt_id": .string(promptID), "status": .string(status.rawValue),
            "images": .array(
                images.map { image in
                    [
                        "node_id": .string(image.file.nodeID), "filename": .string(image.file.location.filename),
                        "subfolder": .string(image.file.location.subfolder),
                        "type": .string(image.file.location.type.rawValue), "url": .string(image.url),
                    ]
                }),
        ]
    }

    package static func == (lhs: WorkflowImages, rhs: WorkflowImages) -> Bool {
        lhs.json == rhs.json
    }
}

/// `POST /api/v1/workflows/interrupt`.
package struct InterruptResult: APIResponse, Equatable {
    /// What was done.
    package enum Action: String, Sendable {
        case interrupted
        case removedFromQueue = "removed_from_queue"
    }

    package var promptID: String?
    package var action: Action

    package init(promptID: String?, action: Action) {
        self.promptID = promptID
        self.action = action
    }

    package var json: JSONValue { ["prompt_id": promptID.jsonValue, "action": .string(action.rawValue)] }
}
