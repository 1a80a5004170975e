import Codecs
import Coordinators
import Models
import Routing

/// `/api/v1/workflows/...`: submit, history, images, interrupt.
enum WorkflowRoutes {
    /// The largest workflow accepted (graphs may embed base64 inputs; ComfyUI takes 100 MB).
    static let maxWorkflowBytes = 32 * 1024 * 1024

    /// The submit request in `object` (the REST body, or a WebSocket `submit`'s `data`).
    static func submitRequest(_ object: [String: JSONValue]) throws(GatewayError) -> WorkflowSubmitRequest {
        var decoding = RequestDecoding()
        let workflow = decoding.required(object, "workflow")
        let clientID = decoding.optionalString(object, "client_id")
        let extraData = decoding.optionalObject(object, "extra_data")
        let front = decoding.optionalBool(object, "front")
        if let clientID, !isValidClientID(clientID) { decoding.fail("client_id", "must be 1 to 256 bytes of UTF-8") }
        try decoding.check()
        return WorkflowSubmitRequest(
            workflow: workflow ?? .null, clientID: clientID, extraData: extraData, front: front ?? false)
    }

    /// Whether `clientID` is acceptable: 1 to 256 bytes.
    static func isValidClientID(_ clientID: String) -> Bool {
        !clientID.isEmpty && clientID.utf8.count <= 256
    }

    static func operations(_ coordinator: WorkflowCoordinator, base: PublicBase) -> [APIOperation] {
        let promptID = APIOperation.pathParameter("prompt_id", "The prompt id `submit` returned.")
        return [
            APIOperation(
                method: .post, path: "/api/v1/workflows/submit", operationID: "submitWorkflow", tag: "workflows",
                summary: "Submit a workflow",
                description: """
                    Checks the graph's structure (an object of node id -> {class_type, inputs}, every link to an \
                    existing node, values nested at most 64 levels deep), then queues it in ComfyUI. Progress goes \
                    to the WebSocket of `client_id`, which may have at most MAX_PENDING_PER_CLIENT unfinished prompts.
                    """,
                parameters: [IdempotencyHeader.parameter],
                requestBody: APIOperation.jsonBody("WorkflowSubmitRequest"),
                replies: [
                    .json(
                        200, "Queued (or, with `Idempotent-Replayed: true`, the first answer of the Idempotency-Key).",
                        schema: "WorkflowSubmission"),
                    .error(409, "IDEMPOTENCY_CONFLICT: the Idempotency-Key was used with another body within 24 h."),
                    .error(
                        400,
                        "WORKFLOW_VALIDATION_ERROR (the graph failed the gateway's check or ComfyUI's) or INVALID_REQUEST (malformed JSON)."
                    ),
                    .error(413, "PAYLOAD_TOO_LARGE."),
                    .error(422, "INVALID_REQUEST: the body does not match the schema (`details.fields`)."),
                    .error(
                        429, "QUEUE_FULL: the client id has MAX_PENDING_PER_CLIENT unfinished prompts (`Retry-After`)."),
                    .error(503, "SERVICE_UNAVAILABLE: the job ledger cannot record the job; nothing was queued."),
                ] + APIOperation.upstreamErrors,
                maxBodyBytes: maxWorkflowBytes
            ) { request, _ in
                let key = try IdempotencyHeader.key(of: request)
                let bytes = try await request.body.collect(upTo: maxWorkflowBytes)
                let submitRequest = try submitRequest(try await RequestDecoding.jsonObject(bytes))
                let answer = try await coordinator.submit(
                    submitRequest,
                    idempotency: key.map { IdempotencyKey(key: $0, requestHash: BodyDigest.sha256Hex(bytes)) })
                var response = await Response.api(answer)
                if answer.replayed { response.setHeader("Idempotent-Replayed", "true") }
                return response
            },
            APIOperation(
                method: .get, path: "/api/v1/workflows/{prompt_id}/history", operationID: "getWorkflowHistory",
                tag: "workflows", summary: "A prompt's state, outputs and history",
                description: """
                    Pending and running prompts are answered too (with `queue_position`), not 404. Once ComfyUI no \
                    longer knows a prompt the gateway accepted (withdrawn, lost in a restart, pruned from its \
                    history), the job ledger answers: `history` is then null and `messages` empty, and a prompt \
                    ComfyUI lost before it ended is `lost`.
                    """,
                parameters: [promptID],
                replies: [
                    .json(200, "The prompt's state.", schema: "WorkflowHistory"),
                    .error(404, "WORKFLOW_NOT_FOUND: not queued, not running, not in history."),
                ] + APIOperation.upstreamErrors
            ) { _, context in
                await .api(try await coordinator.history(promptID: context.parameters["prompt_id"] ?? ""))
            },
            APIOperation(
                method: .get, path: "/api/v1/workflows/{prompt_id}/images", operationID: "getWorkflowImages",
                tag: "workflows", summary: "The files a prompt produced, with download URLs",
                description: "Every output item with filename/subfolder/type counts (images, gifs, audio, ...).",
                parameters: [promptID],
                replies: [
                    .json(200, "The prompt's files (empty until it has finished).", schema: "WorkflowImages"),
                    .error(404, "WORKFLOW_NOT_FOUND."),
                ] + APIOperation.upstreamErrors
            ) { request, context in
                await .api(
                    try await coordinator.images(
                        promptID: context.parameters["prompt_id"] ?? "", base: base.base(for: request)))
            },
            APIOperation(
                method: .post, path: "/api/v1/workflows/interrupt", operationID: "interruptWorkflow",
                tag: "workflows", summary: "Interrupt a running prompt or withdraw a pending one",
                description: """
                    Without `prompt_id`, interrupts whatever runs. With it: a running prompt is interrupted, a \
                    pending one is removed from the queue, any other is a 404.
                    """,
                requestBody: APIOperation.jsonBody("InterruptRequest", required: false),
                replies: [
                    .json(200, "Done.", schema: "InterruptResult"),
                    .error(404, "WORKFLOW_NOT_FOUND: the prompt is neither running nor pending."),
                    .error(502, "QUEUE_OPERATION_ERROR or CONNECTION_ERROR."),
                ] + APIOperation.bodyErrors + APIOperation.upstreamErrors.filter { $0.status != 502 }
            ) { request, _ in
                let object = try await RequestDecoding.jsonObject(request, limit: 64 * 1024)
                var decoding = RequestDecoding()
                let promptID = decoding.optionalString(object, "prompt_id")
                if promptID?.isEmpty == true {
                    decoding.fail("prompt_id", "must not be empty (leave it out to interrupt what runs)")
                }
                try decoding.check()
                return await .api(try await coordinator.interrupt(promptID: promptID))
            },
        ]
    }
}
