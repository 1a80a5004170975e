import Codecs
package import Models
import MoleculeImage
import MoleculeJobs
import MoleculeQueue
import MoleculeWorkflow

/// The jobs API of the service: one job, or a page of them, from the ledger, with download URLs
/// for their files and, for jobs still waiting, their place in ComfyUI's queue (read once per
/// request; unknown when ComfyUI cannot be asked). Composes `MoleculeJobs`, `MoleculeQueue`,
/// `MoleculeWorkflow` (which files an output names) and `MoleculeImage` (download URLs).
package struct JobCoordinator: Sendable {
    let jobs: Jobs
    let queue: QueueControl

    init(jobs: Jobs, queue: QueueControl) {
        self.jobs = jobs
        self.queue = queue
    }

    /// The job `id`; 404 `WORKFLOW_NOT_FOUND` when the ledger has none.
    package func job(id: String, base: String) async throws(GatewayError) -> JobView {
        guard let record = try await jobs.job(id) else {
            throw GatewayError(
                .workflowNotFound, message: "No job '\(id)' in the ledger (never submitted here, or pruned).",
                details: ["prompt_id": .string(id)])
        }
        return await views([record], base: base)[0]
    }

    /// A page of jobs, newest first.
    package func list(_ query: JobQuery, base: String) async throws(GatewayError) -> JobList {
        let page = try await jobs.list(query)
        return JobList(jobs: await views(page.jobs, base: base), nextCursor: page.nextCursor)
    }

    private func views(_ records: [JobRecord], base: String) async -> [JobView] {
        var positions: [String: Int] = [:]
        if records.contains(where: { !$0.status.isFinished }), let status = try? await queue.status() {
            for entry in status.running { positions[entry.promptID] = 0 }
            for (index, entry) in status.pending.enumerated() { positions[entry.promptID] = index + 1 }
        }
        return records.map { record in
            JobView(
                record: record, queuePosition: record.status.isFinished ? nil : positions[record.id],
                images: HistoryReading.outputFiles(record.outputs).map {
                    ($0, ImageStore.downloadURL($0.location, base: base))
                })
        }
    }
}
