import Codecs
import Coordinators
import Models
import Routing

/// `/api/v1/jobs...`: the jobs the ledger keeps, one or a page at a time.
enum JobRoutes {
    static let maxLimit = 500

    static func operations(_ coordinator: JobCoordinator, base: PublicBase) -> [APIOperation] {
        [
            APIOperation(
                method: .get, path: "/api/v1/jobs", operationID: "listJobs", tag: "jobs",
                summary: "The jobs the ledger keeps, newest first",
                description: """
                    Every accepted submission is a job, kept until JOB_RETENTION_HOURS after it ended. Filters \
                    combine; `next_cursor` (null on the last page) fetches the next page.
                    """,
                parameters: [
                    APIOperation.query(
                        "status", "Only jobs in these states (comma-separated).",
                        schema: ["type": "string", "example": "pending,running"]),
                    APIOperation.query("client_id", "Only the jobs of this client id."),
                    APIOperation.query("backend", "Only the jobs of this backend."),
                    APIOperation.query(
                        "limit", "Jobs per page.",
                        schema: ["type": "integer", "minimum": 1, "maximum": .int(Int64(maxLimit)), "default": 50]),
                    APIOperation.query("cursor", "The `next_cursor` of the page before."),
                ],
                replies: [
                    .json(200, "A page of jobs.", schema: "JobList"),
                    .error(422, "INVALID_REQUEST: a bad filter, limit or cursor (`details.fields`)."),
                    .error(503, "SERVICE_UNAVAILABLE: the job ledger cannot be read."),
                ]
            ) { request, _ in
                await .api(try await coordinator.list(try query(request), base: base.base(for: request)))
            },
            APIOperation(
                method: .get, path: "/api/v1/jobs/{job_id}", operationID: "getJob", tag: "jobs",
                summary: "One job",
                parameters: [APIOperation.pathParameter("job_id", "The job id (the `prompt_id` submit returned).")],
                replies: [
                    .json(200, "The job.", schema: "Job"),
                    .error(404, "WORKFLOW_NOT_FOUND: the ledger has no such job."),
                    .error(503, "SERVICE_UNAVAILABLE: the job ledger cannot be read."),
                ]
            ) { request, context in
                await .api(
                    try await coordinator.job(id: context.parameters["job_id"] ?? "", base: base.base(for: request)))
            },
        ]
    }

    /// The list query in the request's query string.
    static func query(_ request: Request) throws(GatewayError) -> JobQuery {
        let parameters = request.queryParameters
        var decoding = RequestDecoding()
        var query = JobQuery()
        if let text = parameters["status"] {
            for name in text.split(separator: ",", omittingEmptySubsequences: true) {
                let trimmed = name.trimmingSpaces
                guard let status = JobStatus(rawValue: trimmed) else {
                    let valid = JobStatus.allCases.map(\.rawValue).joined(separator: ", ")
                    decoding.fail("status", "'\(trimmed)' is not a job status (\(valid))")
                    continue
                }
                if !query.statuses.contains(status) { query.statuses.append(status) }
            }
        }
        query.clientID = parameters["client_id"]
        query.backend = parameters["backend"]
        if let text = parameters["limit"] {
            if let limit = Int(text), (1...maxLimit).contains(limit) {
                query.limit = limit
            } else {
                decoding.fail("limit", "must be an integer from 1 to \(maxLimit)")
            }
        }
        if let text = parameters["cursor"] {
            if let cursor = JobCursor(text) {
                query.cursor = cursor
            } else {
                decoding.fail("cursor", "is not a cursor this gateway wrote")
            }
        }
        try decoding.check()
        return query
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
