import Codecs
import Coordinators
import Models
import Routing

/// `/api/v1/ws/{client_id}`: the gateway WebSocket (`docs/api-contract.md`, "WebSocket"). Registers
/// the socket with the WebSocket coordinator, then reads the client's messages: `submit` (as the
/// REST submit, with this socket's client id), `ping` (answered by `pong`); anything else gets a
/// `system` error with `WEBSOCKET_ERROR` and the socket stays open, except binary messages, which
/// are refused with 1003.
enum WebSocketRoutes {
    static let path = "/api/v1/ws/:client_id"

    /// The endpoint as the OpenAPI document describes it. OpenAPI has no way to describe a
    /// WebSocket (FastAPI leaves them out), so it is a section of the document's description.
    static let documentation = """

        ## WebSocket `GET /api/v1/ws/{client_id}`

        Upgrade to a WebSocket (RFC 6455). Text frames carry `{"type": ..., "data": {...}}`.

        Client to server: `submit` `{"workflow", "extra_data"?, "front"?}` (as the REST submit, with this \
        socket's client id; answered by `system` `{"event": "submitted", "prompt_id", "number", "client_id"}` \
        or `system` `{"event": "error", "error": {...}}`), `ping` (answered by `pong` with the same data). \
        Anything else is answered by a `system` error with `WEBSOCKET_ERROR` and the socket stays open; \
        a binary message is refused with close code 1003.

        Server to client: `system` (`connected`, `submitted`, `error`, `upstream_disconnected`, \
        `upstream_reconnected`), `status` (ComfyUI's queue, to every socket), and for the prompts submitted \
        with this client id (over REST or WebSocket): `executing` `{node, prompt_id}` (node null when the \
        prompt is done), `progress` `{value, max, prompt_id, node}`, `executed` `{node, prompt_id, output}`, \
        ComfyUI's binary preview frames as they are, then exactly one `result` `{prompt_id, status: \
        "success"|"interrupted", outputs, images}` (images as `/images` lists them) or `execution_error` \
        `{prompt_id, node_id, node_type, exception_type, exception_message, traceback, error}`; a prompt \
        ComfyUI lost (restart) ends with `execution_error` of type `comfy_gateway.PromptLost`.

        Every socket of a client id gets every message. A socket whose unsent messages stay over \
        WS_SEND_QUEUE_BYTES for 2 s without shrinking (or for 30 s in all, or past 64 times it) is closed with \
        1008. A socket may send \
        WS_SUBMITS_PER_SECOND submits a second (bursts of twice that), and a client id may have \
        MAX_PENDING_PER_CLIENT unfinished prompts; a submit beyond either gets a `system` error with \
        `QUEUE_FULL`.
        """

    static func add(
        to router: RouterBuilder, coordinator: WebSocketCoordinator, base: PublicBase, submitsPerSecond: Int
    ) {
        let configuration = WebSocketConfiguration(
            maxMessageSize: WorkflowRoutes.maxWorkflowBytes, maxUnreadBytes: 4 * 1024 * 1024)
        router.webSocket(path, configuration: configuration) { socket, request, context in
            let clientID = context.parameters["client_id"] ?? ""
            guard WorkflowRoutes.isValidClientID(clientID) else {
                let error = SocketMessage.error(
                    GatewayError(.websocketError, message: "The client id must be 1 to 256 bytes of UTF-8."),
                    requestID: context.requestID)
                _ = socket.enqueue(error.prepared)
                socket.close(code: 1008, reason: "invalid client id")
                return
            }
            let session = coordinator.open(
                clientID: clientID, publicBase: base.base(for: request), enqueue: { socket.enqueue($0) },
                queuedBytes: { socket.queuedBytes }, close: { socket.close(code: $0, reason: $1) })
            defer { coordinator.close(session) }
            var pace = SubmitRateLimit(perSecond: submitsPerSecond)
            await socket.forEachMessage { message in
                guard let text = message.text else {
                    coordinator.send(
                        .error(
                            GatewayError(
                                .websocketError, message: "Binary messages are not accepted; send JSON text messages."),
                            requestID: context.requestID), to: session)
                    socket.close(code: 1003, reason: "binary messages are not accepted")
                    return
                }
                await handle(
                    text, session: session, coordinator: coordinator, requestID: context.requestID, pace: &pace)
            }
        }
    }

    private static func handle(
        _ text: String, session: GatewaySession, coordinator: WebSocketCoordinator, requestID: String,
        pace: inout SubmitRateLimit
    ) async {
        guard let message = try? await JSONValue.parse(Array(text.utf8)), let type = message["type"]?.stringValue else {
            coordinator.send(
                .error(
                    GatewayError(
                        .websocketError,
                        message: #"Messages must be JSON objects of the form {"type": ..., "data": {...}}."#,
                        details: ["reason": "malformed message"]),
                    requestID: requestID), to: session)
            return
        }
        let data = message["data"] ?? .null
        switch type {
        case "ping":
            coordinator.send(SocketMessage(type: "pong", data: data), to: session)
        case "submit":
            guard let object = data.objectValue else {
                coordinator.send(
                    .error(
                        GatewayError(
                            .invalidRequest, status: 422, message: "A submit message's data must be an object.",
                            details: ["fields": [["field": "data", "message": "must be an object"]]]),
                        requestID: requestID), to: session)
                return
            }
            guard pace.take() else {
                coordinator.send(
                    .error(
                        GatewayError(
                            .queueFull,
                            message:
                                "This socket sent more than \(pace.perSecond) submits a second (bursts of \(2 * pace.perSecond)); slow down.",
                            details: ["limit_per_second": .int(Int64(pace.perSecond)), "retry_after": 1]),
                        requestID: requestID), to: session)
                return
            }
            do {
                let request = try WorkflowRoutes.submitRequest(object)
                await coordinator.submit(request, from: session, requestID: requestID)
            } catch {
                coordinator.send(.error(error, requestID: requestID), to: session)
            }
        default:
            coordinator.send(
                .error(
                    GatewayError(
                        .websocketError,
                        message: "Unknown message type '\(type)'; the gateway accepts submit and ping.",
                        details: ["type": .string(type)]),
                    requestID: requestID), to: session)
        }
    }
}
