package import Codecs

/// One prompt in the queue.
package struct QueueEntry: Sendable, Equatable {
    package var number: Int
    package var promptID: String
    /// The client id the prompt was submitted with (nil when none was given).
    package var clientID: String?

    package init(number: Int, promptID: String, clientID: String?) {
        self.number = number
        self.promptID = promptID
        self.clientID = clientID
    }

    var json: JSONValue {
        ["number": .int(Int64(number)), "prompt_id": .string(promptID), "client_id": clientID.jsonValue]
    }
}

/// `GET /api/v1/queue/status`: what runs and what waits, in run order.
package struct QueueStatus: APIResponse, Equatable {
    package var running: [QueueEntry]
    package var pending: [QueueEntry]

    package init(running: [QueueEntry], pending: [QueueEntry]) {
        self.running = running
        self.pending = pending
    }

    package var json: JSONValue {
        [
            "running": .array(running.map(\.json)), "pending": .array(pending.map(\.json)),
            "running_count": .int(Int64(running.count)), "pending_count": .int(Int64(pending.count)),
        ]
    }
}

/// `POST /api/v1/queue/clear`, as the client sent it.
package struct QueueClearRequest: Sendable, Equatable {
    package var clear: Bool
    package var delete: [String]?

    package init(clear: Bool, delete: [String]?) {
        self.clear = clear
        self.delete = delete
    }
}

/// What `POST /api/v1/queue/clear` did.
package struct QueueClearResult: APIResponse, Equatable {
    package var cleared: Bool
    package var removed: Int
    /// The prompts removed (not part of the answer: the event tracker reports their end).
    package var removedPromptIDs: [String]

    package init(cleared: Bool, removed: Int, removedPromptIDs: [String] = []) {
        self.cleared = cleared
        self.removed = removed
        self.removedPromptIDs = removedPromptIDs
    }

    package var json: JSONValue { ["cleared": .bool(cleared), "removed": .int(Int64(removed))] }
}
