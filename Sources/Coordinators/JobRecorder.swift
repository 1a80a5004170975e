import Codecs
import Models
import MoleculeEvents
import MoleculeJobs
import MoleculeWorkflow

/// Writes what the job tracker reports into the ledger: each job's start, the messages of its
/// run (`progress` only as the latest value per node), and its one end with the terminal message
/// its WebSockets get. Outputs are stored once, in the job (the log's `executed` and `result`
/// entries leave them out). Runs before the notice reaches the sockets. Loop-bound.
struct JobRecorder: Sendable {
    let jobs: Jobs

    func record(_ notice: TrackerNotice) {
        switch notice {
        case .started(_, let promptID):
            jobs.started(promptID)
        case .message(_, let kind, let data, _):
            guard let promptID = data["prompt_id"]?.stringValue else { return }
            switch kind {
            case .progress:
                jobs.progress(promptID, node: data["node"]?.stringValue ?? "", data: data)
            case .executed:
                // The node's output is kept once, in the job's outputs when it ends, not in the
                // log as well: a node's output can be many megabytes.
                jobs.event(promptID, type: kind.rawValue, data: data.removing("output"))
            case .executing:
                jobs.event(promptID, type: kind.rawValue, data: data)
            }
        case .finished(_, let promptID, let entry, _):
            let history = HistoryReading.finished(promptID: promptID, entry: entry)
            let terminal: (String, JSONValue) =
                history.status == .error
                ? (
                    "execution_error",
                    WebSocketCoordinator.executionError(promptID: promptID, error: history.error).data
                )
                : ("result", ["prompt_id": .string(promptID), "status": .string(history.status.rawValue)])
            jobs.finished(
                promptID, status: history.status, outputs: history.outputs, error: history.error, terminal: terminal)
        case .lost(_, let promptID, let reason):
            let error = WebSocketCoordinator.lostError(reason: reason)
            jobs.finished(
                promptID, status: .lost, outputs: [:], error: error,
                terminal: (
                    "execution_error", WebSocketCoordinator.executionError(promptID: promptID, error: error).data
                ))
        case .status, .binary, .upstreamDisconnected, .upstreamReconnected:
            break
        }
    }
}

extension JSONValue {
    /// This object without `key` (other values are returned unchanged).
    fileprivate func removing(_ key: String) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members[key] = nil
        return .object(members)
    }
}
