import Client
import Codecs
import ComfyEmulatorSupport
import Models
import MoleculeQueue
import MoleculeWorkflow
import Testing

/// MoleculeWorkflow and MoleculeQueue against the emulator: every state a prompt can be in,
/// as ComfyUI's queue and history report it.
struct WorkflowsTests {
    static func workflows(_ harness: MoleculeHarness) -> Workflows {
        Workflows(backend: harness.backend, upstreamClientID: "gateway-upstream")
    }

    @Test func aFinishedRunIsASuccessWithItsFiles() async throws {
        try await MoleculeHarness.run { harness in
            let workflows = Self.workflows(harness)
            let submitted = try await workflows.submit(
                WorkflowSubmitRequest(workflow: MoleculeHarness.emptySave, clientID: "caller"))
            #expect(submitted.clientID == "caller")
            var history = try await workflows.history(promptID: submitted.promptID)
            try await harness.waitUntil("the prompt finished") {
                history = try await workflows.history(promptID: submitted.promptID)
                return history.status.isFinished
            }
            #expect(history.status == .success)
            #expect(history.queuePosition == nil)
            #expect(history.error == .null)
            #expect(history.history["prompt"]?[3]?["gateway_client_id"] == "caller")
            #expect(history.history["prompt"]?[3]?["client_id"] == "gateway-upstream")
            let files = workflows.outputFiles(of: history)
            #expect(files.count == 1)
            #expect(files.first?.nodeID == "2")
            #expect(files.first?.location.filename.hasPrefix("molecule_") == true)
            #expect(files.first?.location.type == .output)
        }
    }

    @Test func pendingPromptsHavePositionsAndAreWithdrawnByInterrupt() async throws {
        try await MoleculeHarness.run { harness in
            let workflows = Self.workflows(harness)
            try await harness.pause(true)
            let first = try await workflows.submit(WorkflowSubmitRequest(workflow: MoleculeHarness.emptySave))
            let second = try await workflows.submit(WorkflowSubmitRequest(workflow: MoleculeHarness.emptySave))
            #expect(try await workflows.history(promptID: first.promptID).queuePosition == 1)
            let pending = try await workflows.history(promptID: second.promptID)
            #expect(pending.status == .pending)
            #expect(pending.queuePosition == 2)
            #expect(pending.history == .null)
            let result = try await workflows.interrupt(promptID: second.promptID)
            #expect(result == InterruptResult(promptID: second.promptID, action: .removedFromQueue))
            let gone = await MoleculeHarness.error { _ = try await workflows.history(promptID: second.promptID) }
            #expect(gone?.code == .workflowNotFound)
            let unknown = await MoleculeHarness.error { _ = try await workflows.interrupt(promptID: "nope") }
            #expect(unknown?.code == .workflowNotFound)
            try await harness.pause(false)
        }
    }

    @Test func aRunningPromptIsInterruptedAndReportedSo() async throws {
        try await MoleculeHarness.run { harness in
            let workflows = Self.workflows(harness)
            let submitted = try await workflows.submit(WorkflowSubmitRequest(workflow: MoleculeHarness.slow()))
            try await harness.waitUntil("the prompt runs") {
                try await workflows.history(promptID: submitted.promptID).status == .running
            }
            #expect(try await workflows.history(promptID: submitted.promptID).queuePosition == 0)
            let result = try await workflows.interrupt(promptID: nil)
            #expect(result == InterruptResult(promptID: submitted.promptID, action: .interrupted))
            var history = try await workflows.history(promptID: submitted.promptID)
            try await harness.waitUntil("the prompt ended") {
                history = try await workflows.history(promptID: submitted.promptID)
                return history.status.isFinished
            }
            #expect(history.status == .interrupted)
            #expect(history.error == .null)
        }
    }

    @Test func aFailedRunCarriesTheExecutionError() async throws {
        try await MoleculeHarness.run { harness in
            let workflows = Self.workflows(harness)
            let submitted = try await workflows.submit(WorkflowSubmitRequest(workflow: MoleculeHarness.failing))
            var history = try await workflows.history(promptID: submitted.promptID)
            try await harness.waitUntil("the prompt ended") {
                history = try await workflows.history(promptID: submitted.promptID)
                return history.status.isFinished
            }
            #expect(history.status == .error)
            #expect(history.error["code"] == "WORKFLOW_EXECUTION_ERROR")
            #expect(history.error["details"]?["node_id"] == "2")
            #expect(history.error["details"]?["node_type"] == "FailAlways")
            #expect(history.error["details"]?["exception_message"]?.stringValue?.contains("planned failure") == true)
            #expect(workflows.outputFiles(of: history).isEmpty)
        }
    }

    @Test func aBrokenGraphNeverReachesComfyUI() async throws {
        try await MoleculeHarness.run { harness in
            let workflows = Self.workflows(harness)
            let before = try await harness.emulator.control("stats", loop: harness.loop)["requests"]?.intValue ?? 0
            let error = await MoleculeHarness.error {
                _ = try await workflows.submit(
                    WorkflowSubmitRequest(workflow: ["1": ["class_type": "SaveImage", "inputs": ["images": ["7", 0]]]]))
            }
            #expect(error?.code == .workflowValidationError)
            let after = try await harness.emulator.control("stats", loop: harness.loop)["requests"]?.intValue ?? 0
            #expect(after == before + 1, "only the second stats call reached the emulator")
        }
    }

    @Test func theQueueIsListedInRunOrderAndCleared() async throws {
        try await MoleculeHarness.run { harness in
            let workflows = Self.workflows(harness)
            let queue = QueueControl(backend: harness.backend)
            try await harness.pause(true)
            var ids: [String] = []
            for client in ["a", "b", "c"] {
                ids.append(
                    try await workflows.submit(
                        WorkflowSubmitRequest(workflow: MoleculeHarness.emptySave, clientID: client)
                    ).promptID)
            }
            let front = try await workflows.submit(
                WorkflowSubmitRequest(workflow: MoleculeHarness.emptySave, front: true))
            let status = try await queue.status()
            #expect(status.running.isEmpty)
            #expect(status.pending.map(\.promptID) == [front.promptID] + ids)
            #expect(status.pending.dropFirst().map(\.clientID) == ["a", "b", "c"])
            let removed = try await queue.clear(QueueClearRequest(clear: false, delete: [ids[1], "unknown"]))
            #expect(removed == QueueClearResult(cleared: false, removed: 1, removedPromptIDs: [ids[1]]))
            let cleared = try await queue.clear(QueueClearRequest(clear: true, delete: nil))
            #expect(
                cleared
                    == QueueClearResult(
                        cleared: true, removed: 3,
                        removedPromptIDs: ([front.promptID] + ids).filter { $0 != ids[1] }.sorted()))
            #expect(try await queue.status().pending.isEmpty)
            try await harness.pause(false)
        }
    }

    @Test func priorityNumbersBeyondIntAreClampedNotFatal() async throws {
        try await MoleculeHarness.run { harness in
            let queue = QueueControl(backend: harness.backend)
            let client = HTTPClient(loop: harness.loop, configuration: harness.emulator.clientConfiguration)
            defer { client.shutdown() }
            try await harness.pause(true)
            // Any ComfyUI client may queue with any number; ComfyUI keeps it as a float.
            let body: JSONValue = ["prompt": MoleculeHarness.emptySave, "number": 1e19]
            var request = HTTPClientRequest(method: .post, target: "/prompt", body: .bytes(body.serialized()))
            request.headers.add(name: "Content-Type", value: "application/json")
            let response = try await client.execute(request)
            _ = try await response.collect(upTo: 1 << 16)
            #expect(response.status == 200)
            let status = try await queue.status()
            #expect(status.pending.map(\.number) == [Int.max])
            try await harness.pause(false)
        }
    }
}

extension Workflows {
    /// Checks and submits `request` under a fresh id, as the workflow coordinator does.
    fileprivate func submit(_ request: WorkflowSubmitRequest) async throws(GatewayError) -> WorkflowSubmission {
        try Workflows.check(request)
        return try await submit(request, promptID: Workflows.newPromptID(), clientID: request.clientID ?? "caller-less")
    }
}
