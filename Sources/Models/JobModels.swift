package import Codecs

/// Where a job is in its life, as the ledger keeps it: the workflow statuses, `lost` included.
package typealias JobStatus = WorkflowStatus

/// One job as the ledger keeps it. Times are milliseconds since the Unix epoch.
package struct JobRecord: Sendable, Equatable {
    /// The job id: a lowercase UUID, sent to ComfyUI as the prompt id.
    package var id: String
    package var clientID: String
    /// The backend the job went to (`b0` while there is one).
    package var backend: String
    package var status: JobStatus
    /// ComfyUI's queue number, once it accepted the job.
    package var number: Int?
    package var createdAt: Int64
    package var startedAt: Int64?
    package var finishedAt: Int64?
    /// The API-format graph as submitted.
    package var workflow: JSONValue
    /// `extra_data` as sent to ComfyUI.
    package var extraData: JSONValue
    /// ComfyUI's outputs, once finished (`{}` before).
    package var outputs: JSONValue
    /// The `WORKFLOW_EXECUTION_ERROR` object of a failed or lost job; null otherwise.
    package var error: JSONValue

    package init(
        id: String, clientID: String, backend: String, status: JobStatus = .pending, number: Int? = nil,
        createdAt: Int64, startedAt: Int64? = nil, finishedAt: Int64? = nil, workflow: JSONValue,
        extraData: JSONValue = [:], outputs: JSONValue = [:], error: JSONValue = .null
    ) {
        self.id = id
        self.clientID = clientID
        self.backend = backend
        self.status = status
        self.number = number
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.workflow = workflow
        self.extraData = extraData
        self.outputs = outputs
        self.error = error
    }
}

/// Which jobs `GET /api/v1/jobs` lists: filters, a page size and where the page starts.
package struct JobQuery: Sendable, Equatable {
    /// Any of these statuses; empty for all.
    package var statuses: [JobStatus]
    package var clientID: String?
    package var backend: String?
    /// 1-500.
    package var limit: Int
    /// The `next_cursor` of the page before; nil for the newest jobs.
    package var cursor: JobCursor?

    package init(
        statuses: [JobStatus] = [], clientID: String? = nil, backend: String? = nil, limit: Int = 50,
        cursor: JobCursor? = nil
    ) {
        self.statuses = statuses
        self.clientID = clientID
        self.backend = backend
        self.limit = limit
        self.cursor = cursor
    }
}

/// Where a page of jobs starts: just after the job the ledger numbered `position` (newest
/// first). Written as `j<position>`, opaque to callers.
package struct JobCursor: Sendable, Equatable {
    package var position: Int64

    package init(position: Int64) {
        self.position = position
    }

    /// The cursor in `text`, or nil when it is not one the gateway wrote.
    package init?(_ text: String) {
        guard text.first == "j", let position = Int64(text.dropFirst()), position > 0 else { return nil }
        self.position = position
    }

    package var text: String { "j\(position)" }
}

/// One page of jobs, newest first, and the cursor of the next page (nil on the last one).
package struct JobPage: Sendable, Equatable {
    package var jobs: [JobRecord]
    package var nextCursor: JobCursor?

    package init(jobs: [JobRecord], nextCursor: JobCursor?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }
}

/// The job object of the API (`GET /api/v1/jobs/{id}` and every list).
package struct JobView: APIResponse, Equatable {
    package var record: JobRecord
    /// 0 while running, n for the n-th pending job in run order; nil when unknown or finished.
    package var queuePosition: Int?
    /// The files in the outputs, each with its gateway download URL.
    package var images: [(file: OutputFile, url: String)]

    package init(record: JobRecord, queuePosition: Int?, images: [(file: OutputFile, url: String)]) {
        self.record = record
        self.queuePosition = queuePosition
        self.images = images
    }

    package var json: JSONValue {
        [
            "id": .string(record.id), "client_id": .string(record.clientID), "status": .string(record.status.rawValue),
            "backend": .string(record.backend), "queue_position": queuePosition.jsonValue,
            "created_at": .string(RFC3339Timestamp.format(milliseconds: record.createdAt)),
            "started_at": record.startedAt.map { .string(RFC3339Timestamp.format(milliseconds: $0)) } ?? .null,
            "finished_at": record.finishedAt.map { .string(RFC3339Timestamp.format(milliseconds: $0)) } ?? .null,
            "outputs": record.outputs,
            "images": .array(
                images.map { image in
                    [
                        "node_id": .string(image.file.nodeID), "filename": .string(image.file.location.filename),
                        "subfolder": .string(image.file.location.subfolder),
                        "type": .string(image.file.location.type.rawValue), "url": .string(image.url),
                    ]
                }),
            "error": record.error, "webhook": .null,
        ]
    }

    package static func == (lhs: JobView, rhs: JobView) -> Bool {
        lhs.json == rhs.json
    }
}

/// `GET /api/v1/jobs`: a page of jobs and the cursor of the next.
package struct JobList: APIResponse, Equatable {
    package var jobs: [JobView]
    package var nextCursor: JobCursor?

    package init(jobs: [JobView], nextCursor: JobCursor?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }

    package var json: JSONValue {
        ["jobs": .array(jobs.map(\.json)), "next_cursor": nextCursor.map { .string($0.text) } ?? .null]
    }
}
