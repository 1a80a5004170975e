package import Models
import MoleculeImage
package import MoleculeWorkflow

/// The workflow API of the service: submit, follow, list images, interrupt. Composes
/// `MoleculeWorkflow` (ComfyUI's view of prompts) with `MoleculeImage` (download URLs).
package struct WorkflowCoordinator: Sendable {
    let workflows: Workflows

    package init(workflows: Workflows) {
        self.workflows = workflows
    }

    package func submit(_ request: WorkflowSubmitRequest) async throws(GatewayError) -> WorkflowSubmission {
        try await workflows.submit(request)
    }

    package func history(promptID: String) async throws(GatewayError) -> WorkflowHistory {
        try await workflows.history(promptID: promptID)
    }

    /// The files of a prompt, each with its gateway download URL under `base`.
    package func images(promptID: String, base: String) async throws(GatewayError) -> WorkflowImages {
        let history = try await workflows.history(promptID: promptID)
        let files = workflows.outputFiles(of: history)
        return WorkflowImages(
            promptID: promptID, status: history.status,
            images: files.map { ($0, ImageStore.downloadURL($0.location, base: base)) })
    }

    package func interrupt(promptID: String?) async throws(GatewayError) -> InterruptResult {
        try await workflows.interrupt(promptID: promptID)
    }
}
