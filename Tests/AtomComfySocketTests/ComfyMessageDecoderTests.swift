import AtomComfySocket
import Codecs
import Foundation
import Models
import Testing

/// The `/ws` decoder against every text frame recorded from a real ComfyUI (the traces), and
/// hand-made binary frames of each type.
struct ComfyMessageDecoderTests {
    static let tracesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ComfyEmulator/traces")

    /// Every WebSocket text frame ComfyUI sent in the recordings.
    static func recordedFrames() throws -> [String] {
        let files = try FileManager.default.contentsOfDirectory(atPath: tracesDirectory.path)
            .filter { $0.hasSuffix(".jsonl") }
        var frames: [String] = []
        for file in files.sorted() {
            let text = try String(contentsOf: tracesDirectory.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let record = try JSONValue(parsing: Array(line.utf8))
                if record["dir"] == "in", let frame = record["text"]?.stringValue { frames.append(frame) }
            }
        }
        return frames
    }

    @Test func everyRecordedFrameDecodesToItsTypedCase() throws {
        let frames = try Self.recordedFrames()
        #expect(frames.count > 500)
        var seen: Set<String> = []
        for frame in frames {
            let type = try JSONValue(parsing: Array(frame.utf8))["type"]?.stringValue ?? ""
            seen.insert(type)
            let event = ComfyMessageDecoder.decode(text: frame)
            switch event {
            case .other(let other, _)?:
                Issue.record("\(other) fell through to .other: \(frame.prefix(200))")
            case nil:
                Issue.record("not decoded: \(frame.prefix(200))")
            default:
                break
            }
        }
        #expect(
            seen.isSuperset(of: [
                "status", "execution_start", "execution_cached", "executing", "progress", "progress_state", "executed",
                "execution_success", "execution_error", "execution_interrupted", "feature_flags",
            ]))
    }

    @Test func fieldsAreTyped() {
        #expect(
            ComfyMessageDecoder.decode(
                text: #"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":2}},"sid":"abc"}}"#)
                == .status(
                    queueRemaining: 2, sid: "abc",
                    data: ["status": ["exec_info": ["queue_remaining": 2]], "sid": "abc"]))
        let done = ComfyMessageDecoder.decode(text: #"{"type":"executing","data":{"node":null,"prompt_id":"p"}}"#)
        #expect(done == .executing(promptID: "p", node: nil, displayNode: nil, data: ["node": nil, "prompt_id": "p"]))
        let error = ComfyMessageDecoder.decode(
            text: #"{"type":"execution_error","data":{"prompt_id":"p","node_id":"2","node_type":"FailAlways","#
                + #""exception_message":"boom\n","exception_type":"RuntimeError","traceback":["a","b"]}}"#)
        guard case .executionError(let promptID, let failure, _)? = error else {
            Issue.record("not an execution error: \(String(describing: error))")
            return
        }
        #expect(promptID == "p")
        #expect(
            failure
                == ComfyExecutionFailure(
                    nodeID: "2", nodeType: "FailAlways", exceptionType: "RuntimeError", exceptionMessage: "boom\n",
                    traceback: ["a", "b"]))
        #expect(
            ComfyMessageDecoder.decode(text: #"{"type":"display_component","data":{"x":1}}"#)
                == .other(type: "display_component", data: ["x": 1]), "unknown types pass through")
        #expect(ComfyMessageDecoder.decode(text: "not json") == nil)
    }

    @Test func binaryFramesOfEachType() {
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF]
        #expect(
            ComfyMessageDecoder.decode(binary: [0, 0, 0, 1, 0, 0, 0, 1] + jpeg) == .preview(format: 1, image: jpeg))
        let text = [0, 0, 0, 3, 0, 0, 0, 2] + Array("16width: 72".utf8)
        #expect(ComfyMessageDecoder.decode(binary: text) == .text(nodeID: "16", text: "width: 72"))
        let metadata = Array(#"{"prompt_id":"p","node_id":"3","image_type":"image/jpeg"}"#.utf8)
        let typeFour = [0, 0, 0, 4, 0, 0, 0, UInt8(metadata.count)] + metadata + jpeg
        #expect(
            ComfyMessageDecoder.decode(binary: typeFour)
                == .previewWithMetadata(
                    metadata: ["prompt_id": "p", "node_id": "3", "image_type": "image/jpeg"], frame: typeFour))
        #expect(ComfyMessageDecoder.decode(binary: typeFour)?.previewImage == jpeg)
        #expect(ComfyMessageDecoder.decode(binary: [0, 0, 0, 9, 1, 2]) == .binary(eventType: 9, payload: [1, 2]))
        #expect(
            ComfyMessageDecoder.decode(binary: [0, 0, 0, 4, 0, 0, 1, 0, 1])
                == .binary(eventType: 4, payload: [0, 0, 1, 0, 1]),
            "a type-4 frame whose metadata length overruns is passed through, not dropped")
        #expect(ComfyMessageDecoder.decode(binary: [0, 0, 1]) == nil)
    }
}
