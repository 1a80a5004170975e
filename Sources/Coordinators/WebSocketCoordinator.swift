package import Codecs
package import Models
import MoleculeEvents
package import MoleculeSessions
import MoleculeWorkflow

/// One registered gateway WebSocket.
package typealias GatewaySession = Sessions.Session

/// The WebSocket API of the service: registers sockets by client id, answers their `submit`, and
/// turns the job tracker's notices into the messages of `docs/api-contract.md` ("WebSocket"), each
/// to the sockets of the prompt's client id (or to every socket for `status` and upstream events).
/// A prompt's end is one `result` (success or interrupted, with its files and download URLs as the
/// REST `/images` route lists them) or one `execution_error`. Composes `MoleculeEvents` (what
/// ComfyUI reports), `MoleculeSessions` (the sockets), `MoleculeWorkflow` (history reading) and the
/// workflow coordinator (submit). Loop-bound.
/// `@unchecked Sendable`: a `Sendable` route holds it; only tasks on the loop touch it.
package final class WebSocketCoordinator: @unchecked Sendable {
    let sessions: Sessions
    let events: UpstreamEvents
    let workflows: WorkflowCoordinator
    /// Followed prompts that ended, by outcome (`success`, `error`, `interrupted`, `lost`).
    private(set) var endedJobs: [String: Int] = [:]

    init(sessions: Sessions, events: UpstreamEvents, workflows: WorkflowCoordinator) {
        self.sessions = sessions
        self.events = events
        self.workflows = workflows
    }

    /// Registers a socket that just connected as `clientID`, and greets it: `system connected`,
    /// then ComfyUI's queue status: the last one it sent, or, while the upstream socket is down,
    /// one whose `queue_remaining` is null (unknown), never a stale count from before an outage.
    /// The route that owns the socket says how to reach it: queue a message without waiting
    /// (false once it is closing), the bytes it has queued, and how to close it.
    package func open(
        clientID: String, publicBase: String, enqueue: @escaping (PreparedMessage) -> Bool,
        queuedBytes: @escaping () -> Int, close: @escaping (UInt16, String) -> Void
    ) -> GatewaySession {
        let outlet = SessionOutlet(enqueue: enqueue, queuedBytes: queuedBytes, close: close)
        let session = sessions.add(outlet, clientID: clientID, publicBase: publicBase)
        send(
            .system(
                "connected",
                [
                    "client_id": .string(clientID),
                    "upstream": .string(events.isUpstreamConnected ? "connected" : "disconnected"),
                ]), to: session)
        if !events.isUpstreamConnected {
            send(
                SocketMessage(type: "status", data: ["status": ["exec_info": ["queue_remaining": .null]]]), to: session)
        } else if let status = events.lastStatus {
            send(SocketMessage(type: "status", data: status), to: session)
        }
        return session
    }

    /// Forgets a socket that closed.
    package func close(_ session: GatewaySession) {
        sessions.remove(session)
    }

    /// The sockets' part of the service's stats.
    func recordStats(into stats: inout GatewayStats) {
        stats.webSocketSubscribers = sessions.count
        stats.slowSocketsClosed = sessions.slowSocketsClosed
        stats.messagesDropped = sessions.messagesDropped
        stats.upstreamSocketConnected = events.isUpstreamConnected
        (stats.jobsPending, stats.jobsRunning) = events.followedPrompts
        stats.jobsEnded = endedJobs
    }

    /// Sends `message` to one socket.
    package func send(_ message: SocketMessage, to session: GatewaySession) {
        sessions.send(message.prepared, to: session)
    }

    /// Queues a workflow for the socket's client id and answers `system submitted` (before any
    /// of the prompt's events), or `system error` with the error object.
    package func submit(_ request: WorkflowSubmitRequest, from session: GatewaySession, requestID: String) async {
        var request = request
        request.clientID = session.clientID
        do {
            _ = try await workflows.submit(request) { submission in
                var fields: [String: JSONValue] = [
                    "prompt_id": .string(submission.promptID), "number": .int(Int64(submission.number)),
                    "client_id": .string(submission.clientID),
                ]
                if let errors = submission.nodeErrors.objectValue, !errors.isEmpty {
                    fields["node_errors"] = submission.nodeErrors
                }
                send(.system("submitted", fields), to: session)
            }
        } catch {
            send(.error(error, requestID: requestID), to: session)
        }
    }

    // MARK: Notices

    /// Sends what the tracker reports to the sockets it concerns.
    func deliver(_ notice: TrackerNotice) {
        switch notice {
        case .started:
            break
        case .status(let data):
            sessions.broadcast(SocketMessage(type: "status", data: data).prepared)
        case .message(let clientID, let kind, let data, let frame):
            guard sessions.hasSessions(clientID) else { return }
            // ComfyUI's own text when the message is unchanged: a large `executed` is not written again.
            let text = frame ?? SocketMessage(type: kind.rawValue, data: data).serialized()
            sessions.send(PreparedMessage(utf8Text: text), toClient: clientID)
        case .binary(let clientID, let frame):
            guard sessions.hasSessions(clientID) else { return }
            sessions.send(PreparedMessage(binary: frame), toClient: clientID)
        case .finished(let clientID, let promptID, let entry, _):
            let history = HistoryReading.finished(promptID: promptID, entry: entry)
            endedJobs[history.status.rawValue, default: 0] += 1
            finished(history, clientID: clientID)
        case .lost(let clientID, let promptID, let reason):
            endedJobs["lost", default: 0] += 1
            let error = Self.executionError(promptID: promptID, error: Self.lostError(reason: reason))
            sessions.send(error.prepared, toClient: clientID)
        case .upstreamDisconnected(let reason):
            sessions.broadcast(
                SocketMessage.system("upstream_disconnected", ["reason": .string(reason)]).prepared)
        case .upstreamReconnected:
            sessions.broadcast(SocketMessage.system("upstream_reconnected").prepared)
        }
    }

    /// `result`, or `execution_error` for a failed run.
    private func finished(_ history: WorkflowHistory, clientID: String) {
        let targets = sessions.sessions(of: clientID)
        guard !targets.isEmpty else { return }
        if history.status == .error {
            let message = Self.executionError(promptID: history.promptID, error: history.error)
            sessions.send(message.prepared, toClient: clientID)
            return
        }
        // Download URLs depend on the base each socket reached the gateway at.
        var byBase: [String: PreparedMessage] = [:]
        for session in targets {
            let message =
                byBase[session.publicBase]
                ?? {
                    let images = WorkflowCoordinator.images(of: history, base: session.publicBase)
                    let result = SocketMessage(
                        type: "result",
                        data: [
                            "prompt_id": .string(history.promptID), "status": .string(history.status.rawValue),
                            "outputs": history.outputs, "images": images.json["images"] ?? [],
                        ])
                    return result.prepared
                }()
            byBase[session.publicBase] = message
            sessions.send(message, to: session)
        }
    }

    /// The `WORKFLOW_EXECUTION_ERROR` object of a lost prompt (`reason` says why).
    static func lostError(reason: String) -> JSONValue {
        [
            "code": .string(ErrorCode.workflowExecutionError.rawValue), "message": .string(reason),
            "details": [
                "node_id": .null, "node_type": .null, "exception_type": "comfy_gateway.PromptLost",
                "exception_message": .string(reason), "traceback": [], "reason": "lost",
            ],
        ]
    }

    /// `execution_error` from the `WORKFLOW_EXECUTION_ERROR` object of a failed or lost run.
    static func executionError(promptID: String, error: JSONValue) -> SocketMessage {
        let details = error["details"] ?? [:]
        return SocketMessage(
            type: "execution_error",
            data: [
                "prompt_id": .string(promptID), "node_id": details["node_id"] ?? .null,
                "node_type": details["node_type"] ?? .null, "exception_type": details["exception_type"] ?? .null,
                "exception_message": details["exception_message"] ?? .null,
                "traceback": details["traceback"] ?? [], "error": error,
            ])
    }
}
