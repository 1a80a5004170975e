import AtomComfySocket
import Codecs
import Models
import MoleculeEvents
import Testing

/// The job tracker without I/O: held prompts, completion, one end per prompt, attribution of
/// events that carry no prompt id, and the ends it puts together when ComfyUI lost the history.
struct JobTrackerTests {
    let start = ContinuousClock.now

    static func progress(_ promptID: String, _ value: Int) -> ComfyEvent {
        .progress(
            promptID: promptID, node: "2", value: Double(value), max: 5,
            data: ["value": .int(Int64(value)), "max": 5, "prompt_id": .string(promptID), "node": "2"])
    }

    static func executing(_ promptID: String?, _ node: String?) -> ComfyEvent {
        var data: [String: JSONValue] = ["node": node.map(JSONValue.string) ?? .null]
        if let promptID { data["prompt_id"] = .string(promptID) }
        return .executing(promptID: promptID, node: node, displayNode: nil, data: .object(data))
    }

    static func notices(_ actions: [JobTracker.Action]) -> [TrackerNotice] {
        actions.compactMap { if case .notice(let notice) = $0 { notice } else { nil } }
    }

    @Test func aHeldPromptsEventsWaitForItsReleaseAndComeInOrder() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", held: true, now: start)
        #expect(tracker.receive(Self.progress("p", 1), now: start).isEmpty)
        #expect(tracker.receive(.executionStart(promptID: "p", data: [:]), now: start).isEmpty)
        #expect(tracker.receive(Self.progress("p", 2), now: start).isEmpty)
        let released = Self.notices(tracker.release(promptID: "p", now: start))
        let values = released.map { notice -> JSONValue? in
            if case .message("alice", .progress, let data, _) = notice { data["value"] } else { nil }
        }
        #expect(values == [.int(1), nil, .int(2)])
        #expect(released[1] == .started(clientID: "alice", promptID: "p"))
        // Released once only; later events pass at once.
        #expect(tracker.release(promptID: "p", now: start).isEmpty)
        #expect(Self.notices(tracker.receive(Self.progress("p", 3), now: start)).count == 1)
    }

    @Test func eventsOfPromptsTheGatewayNeverTrackedAreDropped() {
        var tracker = JobTracker()
        #expect(tracker.receive(Self.progress("other", 1), now: start).isEmpty)
        tracker.track(promptID: "other", clientID: "alice", now: start)
        #expect(tracker.release(promptID: "other", now: start).isEmpty)
        #expect(Self.notices(tracker.receive(Self.progress("other", 2), now: start)).count == 1)
    }

    @Test func anUntrackedPromptIsForgottenWithoutANoticeAndFreesItsPlace() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", held: true, now: start)
        _ = tracker.receive(Self.progress("p", 1), now: start)
        #expect(tracker.trackedCount(of: "alice") == 1)
        tracker.untrack(promptID: "p")
        #expect(tracker.trackedCount(of: "alice") == 0)
        #expect(tracker.release(promptID: "p", now: start).isEmpty)
        #expect(tracker.receive(Self.progress("p", 2), now: start).isEmpty)
    }

    @Test func aHeldPromptIsNeverQuiet() {
        var tracker = JobTracker()
        tracker.track(promptID: "held", clientID: "alice", held: true, now: start)
        tracker.track(promptID: "sent", clientID: "alice", now: start)
        #expect(tracker.quietPrompts(for: .seconds(10), now: start + .seconds(60)) == ["sent"])
        _ = tracker.release(promptID: "held", now: start + .seconds(60))
        #expect(Set(tracker.quietPrompts(for: .seconds(10), now: start + .seconds(120))) == ["held", "sent"])
    }

    @Test func aHeldPromptIsNeitherReconciledNorFinishedByOne() {
        var tracker = JobTracker()
        tracker.track(promptID: "held", clientID: "alice", held: true, now: start)
        tracker.track(promptID: "sent", clientID: "alice", now: start)
        #expect(tracker.sentPromptIDs == ["sent"])
        let heldBegan = tracker.beginFinishing("held")
        #expect(!heldBegan)
        _ = tracker.release(promptID: "held", now: start)
        #expect(Set(tracker.sentPromptIDs) == ["held", "sent"])
        let releasedBegan = tracker.beginFinishing("held")
        #expect(releasedBegan)
    }

    @Test func aStartIsReportedOnceBeforeTheFirstExecuting() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", now: start)
        let first = Self.notices(tracker.receive(Self.executing("p", "2"), now: start))
        #expect(first.first == .started(clientID: "alice", promptID: "p"))
        #expect(first.count == 2)
        #expect(Self.notices(tracker.receive(Self.executing("p", "3"), now: start)).count == 1)
    }

    @Test func completionWaitsForExecutingNullThenEndsOnce() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", now: start)
        #expect(tracker.receive(.executionSuccess(promptID: "p", data: ["prompt_id": "p"]), now: start).isEmpty)
        let done = tracker.receive(Self.executing("p", nil), now: start)
        #expect(done.count == 2)
        #expect(done.last == .readHistory(promptID: "p"))
        // A second executing null, or a reconcile, does not start another read.
        #expect(tracker.receive(Self.executing("p", nil), now: start).isEmpty)
        let began = tracker.beginFinishing("p")
        #expect(!began)
        let entry: JSONValue = ["outputs": [:], "status": ["status_str": "success"]]
        #expect(
            Self.notices(tracker.finish(promptID: "p", entry: entry, lostReason: ""))
                == [.finished(clientID: "alice", promptID: "p", entry: entry, fromHistory: true)])
        #expect(tracker.finish(promptID: "p", entry: entry, lostReason: "").isEmpty)
        // Late events of an ended prompt are dropped, and it cannot be tracked again.
        #expect(tracker.receive(Self.progress("p", 3), now: start).isEmpty)
        tracker.track(promptID: "p", clientID: "alice", now: start)
        #expect(tracker.trackedPromptIDs.isEmpty)
    }

    @Test func withoutHistoryTheEndSeenIsUsedWithTheOutputsSeen() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", now: start)
        let output: JSONValue = ["images": [["filename": "a.png", "subfolder": "", "type": "output"]]]
        _ = tracker.receive(
            .executed(
                promptID: "p", node: "9", output: output, data: ["node": "9", "prompt_id": "p", "output": output]),
            now: start)
        _ = tracker.receive(.executionInterrupted(promptID: "p", nodeID: "3", nodeType: "X", data: [:]), now: start)
        let notices = Self.notices(tracker.finish(promptID: "p", entry: nil, lostReason: "gone"))
        guard case .finished("alice", "p", let entry, false)? = notices.first else {
            Issue.record("expected an end put together from the events, got \(notices)")
            return
        }
        #expect(entry["outputs"]?["9"] == output)
        #expect(entry["status"]?["messages"]?[0]?[0] == "execution_interrupted")
    }

    @Test func aPromptWithNoEndSeenAndNoHistoryIsLost() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", now: start)
        let began = tracker.beginFinishing("p")
        #expect(began)
        #expect(
            Self.notices(tracker.finish(promptID: "p", entry: nil, lostReason: "restarted"))
                == [.lost(clientID: "alice", promptID: "p", reason: "restarted")])
    }

    @Test func aWithdrawnPromptEndsInterrupted() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", now: start)
        let notices = Self.notices(tracker.withdraw(promptID: "p", reason: "removed"))
        guard case .finished(_, _, let entry, false)? = notices.first else {
            Issue.record("expected an end, got \(notices)")
            return
        }
        #expect(entry["status"]?["messages"]?[0]?[0] == "execution_interrupted")
        #expect(tracker.withdraw(promptID: "p", reason: "again").isEmpty)
    }

    @Test func eventsWithoutPromptIDBelongToTheRunningPrompt() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", now: start)
        _ = tracker.receive(.executionStart(promptID: "p", data: [:]), now: start)
        // After a reconnect ComfyUI sends `executing` with only the node.
        let executing = Self.notices(tracker.receive(Self.executing(nil, "4"), now: start))
        #expect(
            executing == [
                .message(clientID: "alice", kind: .executing, data: ["node": "4", "prompt_id": "p"], frame: nil)
            ])
        let preview = Self.notices(tracker.receive(.preview(format: 1, image: [0xFF, 0xD8]), now: start))
        #expect(preview == [.binary(clientID: "alice", frame: [0, 0, 0, 1, 0, 0, 0, 1, 0xFF, 0xD8])])
        // Once the prompt ended, nothing is attributed to it.
        _ = tracker.receive(.executionSuccess(promptID: "p", data: [:]), now: start)
        #expect(tracker.receive(.preview(format: 1, image: [1]), now: start).isEmpty)
    }

    @Test func previewsWithMetadataGoToTheirPromptFramedAsComfyUIFramedThem() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", now: start)
        tracker.track(promptID: "q", clientID: "bob", now: start)
        let metadata: JSONValue = ["prompt_id": "q", "node_id": "2"]
        let event = ComfyEvent.previewWithMetadata(metadata: metadata, image: [0xFF, 0xD8, 0xFF])
        guard case .binary("bob", let frame)? = Self.notices(tracker.receive(event, now: start)).first else {
            Issue.record("expected a frame for bob")
            return
        }
        #expect(ComfyMessageDecoder.decode(binary: frame) == event)
    }

    @Test func aPreviewFrameIsPassedOnByteForByte() throws {
        var tracker = JobTracker()
        tracker.track(promptID: "q", clientID: "bob", now: start)
        // ComfyUI's own spelling of the metadata: spaces and a key order the gateway's writer
        // would not produce. The client gets these very bytes.
        let json = Array(#"{"node_id": "2",  "prompt_id": "q", "image_type": "image/jpeg"}"#.utf8)
        let original = [0, 0, 0, 4, 0, 0, 0, UInt8(json.count)] + json + [0xFF, 0xD8, 0xFF, 0xE0]
        let event = try #require(ComfyMessageDecoder.decode(binary: original))
        guard case .binary("bob", let frame)? = Self.notices(tracker.receive(event, now: start)).first else {
            Issue.record("expected a frame for bob")
            return
        }
        #expect(frame == original)
    }

    @Test func statusLosesTheUpstreamSessionID() {
        var tracker = JobTracker()
        let notices = Self.notices(
            tracker.receive(
                .status(
                    queueRemaining: 1, sid: "x", data: ["status": ["exec_info": ["queue_remaining": 1]], "sid": "x"]),
                now: start))
        #expect(notices == [.status(["status": ["exec_info": ["queue_remaining": 1]]])])
        #expect(tracker.lastStatus == ["status": ["exec_info": ["queue_remaining": 1]]])
    }

    @Test func anExecutionBlockedErrorDoesNotEndThePrompt() {
        var tracker = JobTracker()
        tracker.track(promptID: "p", clientID: "alice", now: start)
        let blocked = ComfyExecutionFailure(
            nodeID: "1", nodeType: "X", exceptionType: "ExecutionBlocked", exceptionMessage: "", traceback: [])
        _ = tracker.receive(
            .executionError(promptID: "p", failure: blocked, data: ["exception_type": "ExecutionBlocked"]), now: start)
        let notices = Self.notices(tracker.finish(promptID: "p", entry: nil, lostReason: "lost"))
        #expect(notices == [.lost(clientID: "alice", promptID: "p", reason: "lost")])
    }

    @Test func quietPromptsAreThoseWithoutRecentEvents() {
        var tracker = JobTracker()
        tracker.track(promptID: "old", clientID: "a", now: start)
        tracker.track(promptID: "new", clientID: "a", now: start)
        _ = tracker.receive(Self.progress("new", 1), now: start + .seconds(9))
        #expect(tracker.quietPrompts(for: .seconds(10), now: start + .seconds(12)) == ["old"])
    }

    @Test func unchangedMessagesKeepComfyUIsTextAndFilledInOnesDoNot() {
        var tracker = JobTracker()
        let text = Array(#"{"type": "executed", "data": {"node": "9", "prompt_id": "p", "output": {}}}"#.utf8)
        let executed = ComfyEvent.executed(
            promptID: "p", node: "9", output: [:], data: ["node": "9", "prompt_id": "p", "output": [:]])
        // Held before the submit answer, with its text, and released with it.
        tracker.track(promptID: "p", clientID: "alice", held: true, now: start)
        #expect(tracker.receive(executed, text: text, now: start).isEmpty)
        let replayed = Self.notices(tracker.release(promptID: "p", now: start))
        guard case .message("alice", .executed, _, let frame) = replayed.first else {
            Issue.record("no executed message: \(replayed)")
            return
        }
        #expect(frame == text)
        // A progress without its prompt id is attributed to the running prompt and written anew.
        _ = tracker.receive(.executionStart(promptID: "p", data: [:]), now: start)
        let anonymous = ComfyEvent.progress(promptID: nil, node: "2", value: 1, max: 2, data: ["value": 1, "max": 2])
        let filled = Self.notices(tracker.receive(anonymous, text: Array("{}".utf8), now: start))
        #expect(
            filled == [
                .message(
                    clientID: "alice", kind: .progress, data: ["value": 1, "max": 2, "prompt_id": "p"], frame: nil)
            ])
    }
}
