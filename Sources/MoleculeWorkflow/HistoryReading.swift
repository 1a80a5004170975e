package import Codecs
package import Models

/// Reads ComfyUI history entries: the outcome (success, error or interrupted, told apart by the
/// last terminal status message, since ComfyUI reports interruption as `status_str: "error"`),
/// the execution error, and the files in the outputs.
package enum HistoryReading {
    /// The API view of a finished prompt's history entry.
    package static func finished(promptID: String, entry: JSONValue) -> WorkflowHistory {
        let messages = entry["status"]?["messages"]?.arrayValue ?? []
        let status = outcome(of: entry)
        var error = JSONValue.null
        if status == .error {
            error = executionError(promptID: promptID, messages: messages)
        }
        return WorkflowHistory(
            promptID: promptID, status: status, queuePosition: nil,
            outputs: entry["outputs"].flatMap { $0.isNull ? nil : $0 } ?? [:],
            messages: .array(messages), error: error, history: entry)
    }

    /// success, error or interrupted.
    package static func outcome(of entry: JSONValue) -> WorkflowStatus {
        let messages = entry["status"]?["messages"]?.arrayValue ?? []
        let terminal = messages.last { message in
            guard let type = message[0]?.stringValue else { return false }
            return ["execution_success", "execution_error", "execution_interrupted"].contains(type)
        }
        switch terminal?[0]?.stringValue {
        case "execution_interrupted": return .interrupted
        case "execution_error": return .error
        case "execution_success": return .success
        default:
            // No terminal message: trust status_str (absent before 2024: a stored entry meant success).
            return entry["status"]?["status_str"]?.stringValue == "error" ? .error : .success
        }
    }

    /// The `WORKFLOW_EXECUTION_ERROR` object of a failed run, from its `execution_error` message.
    package static func executionError(promptID: String, messages: [JSONValue]) -> JSONValue {
        let data = messages.last { $0[0]?.stringValue == "execution_error" }?[1] ?? [:]
        return executionError(data)
    }

    /// The `WORKFLOW_EXECUTION_ERROR` object for an `execution_error` payload.
    package static func executionError(_ data: JSONValue) -> JSONValue {
        let exceptionMessage = data["exception_message"]?.stringValue ?? ""
        var message = exceptionMessage
        while message.last?.isNewline == true { message.removeLast() }
        let nodeType = data["node_type"]?.stringValue ?? "?"
        let nodeID = data["node_id"]?.stringValue ?? "?"
        return [
            "code": .string(ErrorCode.workflowExecutionError.rawValue),
            "message": .string(
                message.isEmpty
                    ? "Node \(nodeID) (\(nodeType)) failed." : "Node \(nodeID) (\(nodeType)) failed: \(message)"),
            "details": [
                "node_id": data["node_id"] ?? .null, "node_type": data["node_type"] ?? .null,
                "exception_type": data["exception_type"] ?? .null,
                "exception_message": data["exception_message"] ?? .null,
                "traceback": data["traceback"] ?? [],
            ],
        ]
    }

    /// Every output item carrying `filename`, `subfolder` and `type` (images, gifs, audio, ...),
    /// nodes in numeric id order, each node's lists by name, items in ComfyUI's order.
    package static func outputFiles(_ outputs: JSONValue) -> [OutputFile] {
        guard let nodes = outputs.objectValue else { return [] }
        var files: [OutputFile] = []
        for nodeID in nodes.keys.sorted(by: nodeOrder) {
            guard let lists = nodes[nodeID]?.objectValue else { continue }
            for key in lists.keys.sorted() {
                for item in lists[key]?.arrayValue ?? [] {
                    guard let filename = item["filename"]?.stringValue, let type = item["type"]?.stringValue,
                        let fileType = FileType(rawValue: type)
                    else { continue }
                    let subfolder = item["subfolder"]?.stringValue ?? ""
                    files.append(
                        OutputFile(
                            nodeID: nodeID,
                            location: FileLocation(filename: filename, subfolder: subfolder, type: fileType)))
                }
            }
        }
        return files
    }

    /// Numeric ids in numeric order, before other ids in text order.
    static func nodeOrder(_ lhs: String, _ rhs: String) -> Bool {
        switch (Int(lhs), Int(rhs)) {
        case (let left?, let right?): left < right
        case (.some, nil): true
        case (nil, .some): false
        case (nil, nil): lhs < rhs
        }
    }
}
