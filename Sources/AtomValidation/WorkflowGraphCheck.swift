// AtomValidation (L4): pure checks of what clients send: workflow graph structure, file name and
// subfolder safety, image formats by magic bytes. Imports Models only; no I/O.

package import Codecs
package import Models

/// The structural check of an API-format workflow graph before it is sent to ComfyUI: the
/// graph is a non-empty object of node id -> `{class_type, inputs}`, and every link
/// (`[node_id, output_index]`) points at a node of the graph. What ComfyUI alone can know
/// (node classes, input types) is left to ComfyUI.
///
/// A failure is a `WORKFLOW_VALIDATION_ERROR` whose `details` have ComfyUI's own shape
/// (`error` + `node_errors`), so a client handles the gateway's rejections and ComfyUI's alike.
package enum WorkflowGraphCheck {
    /// Throws when `workflow` is not a structurally sound graph.
    package static func check(_ workflow: JSONValue) throws(GatewayError) {
        guard let nodes = workflow.objectValue else {
            throw failure("The workflow must be a JSON object of node id -> {class_type, inputs}.", nodeErrors: [:])
        }
        guard !nodes.isEmpty else {
            throw failure("The workflow has no nodes.", nodeErrors: [:])
        }
        if nodes["nodes"]?.arrayValue != nil && nodes["links"] != nil {
            throw failure(
                "This is ComfyUI's UI workflow format (nodes and links); submit the API format instead "
                    + "(ComfyUI: Workflow > Export (API), or Save (API Format) with dev mode on).",
                nodeErrors: [:])
        }
        var nodeErrors: [String: JSONValue] = [:]
        var tooDeep = false
        for (id, node) in nodes.sorted(by: { $0.key < $1.key }) {
            var problems = problems(of: node, in: nodes)
            if let fields = node.objectValue, let deepest = fields.values.map(inputNesting).max(),
                deepest > maxNesting
            {
                tooDeep = true
                problems.append(
                    Problem(
                        type: "nesting_too_deep",
                        message: "Node value nested more than \(maxNesting) levels deep",
                        details: "a value of this node is nested \(deepest) levels deep; the limit is \(maxNesting)"))
            }
            guard !problems.isEmpty else { continue }
            nodeErrors[id] = [
                "errors": .array(
                    problems.map { problem in
                        [
                            "type": .string(problem.type), "message": .string(problem.message),
                            "details": .string(problem.details), "extra_info": [:],
                        ]
                    }),
                "dependent_outputs": [],
                "class_type": node["class_type"]?.stringValue.map(JSONValue.string) ?? .null,
            ]
        }
        guard nodeErrors.isEmpty else {
            let count = nodeErrors.count
            let nested = tooDeep ? " Values may nest at most \(maxNesting) levels deep." : ""
            throw failure(
                "The workflow is malformed: \(count) node\(count == 1 ? "" : "s") failed the structural check.\(nested)",
                nodeErrors: nodeErrors)
        }
    }

    /// How deep a value inside a node may nest (arrays and objects within arrays and objects).
    /// ComfyUI deep-copies every prompt with Python recursion when it takes it off the queue; a
    /// prompt nested a few hundred levels deep kills its worker and stalls the queue for everyone,
    /// while real workflows nest a handful of levels.
    package static let maxNesting = 64

    /// Throws when the `extra_data` sent along with a workflow nests deeper than `maxNesting`
    /// (ComfyUI deep-copies it with the prompt).
    package static func checkExtraData(_ extraData: [String: JSONValue]) throws(GatewayError) {
        let deepest = extraData.values.map(nesting).max() ?? 0
        guard deepest <= maxNesting else {
            throw GatewayError(
                .invalidRequest,
                message: "extra_data is nested \(deepest) levels deep; the limit is \(maxNesting).",
                details: ["field": "extra_data"])
        }
    }

    /// The nesting of a node field: `inputs` counts from its values (the object itself is the
    /// node's shape, not nesting).
    private static func inputNesting(_ value: JSONValue) -> Int {
        guard let members = value.objectValue else { return nesting(value) }
        return members.values.map(nesting).max() ?? 0
    }

    /// 0 for a scalar, 1 + the deepest element for an array or object.
    private static func nesting(_ value: JSONValue) -> Int {
        switch value {
        case .array(let elements): 1 + (elements.map(nesting).max() ?? 0)
        case .object(let members): 1 + (members.values.map(nesting).max() ?? 0)
        default: 0
        }
    }

    private struct Problem {
        let type: String
        let message: String
        let details: String
    }

    private static func problems(of node: JSONValue, in nodes: [String: JSONValue]) -> [Problem] {
        guard let fields = node.objectValue else {
            return [Problem(type: "invalid_node", message: "Node is not an object", details: "")]
        }
        var problems: [Problem] = []
        if fields["class_type"]?.stringValue?.isEmpty != false {
            problems.append(
                Problem(type: "missing_class_type", message: "Node has no class_type", details: "class_type"))
        }
        guard let inputs = fields["inputs"]?.objectValue else {
            problems.append(Problem(type: "missing_inputs", message: "Node has no inputs object", details: "inputs"))
            return problems
        }
        for (name, value) in inputs.sorted(by: { $0.key < $1.key }) {
            guard let link = value.arrayValue, link.count == 2, let target = link[0].stringValue,
                link[1].intValue != nil
            else { continue }
            if nodes[target] == nil {
                problems.append(
                    Problem(
                        type: "dangling_link", message: "Input links to a node that does not exist",
                        details: "\(name): node '\(target)' is not in the workflow"))
            }
        }
        return problems
    }

    private static func failure(_ message: String, nodeErrors: [String: JSONValue]) -> GatewayError {
        GatewayError(
            .workflowValidationError, message: message,
            details: [
                "error": [
                    "type": "invalid_prompt", "message": .string(message), "details": "", "extra_info": [:],
                ],
                "node_errors": .object(nodeErrors),
            ])
    }
}
