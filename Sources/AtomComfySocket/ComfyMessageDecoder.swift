import Codecs
import Models

/// Turns `/ws` frames into `ComfyEvent`s, without I/O. Text must be a JSON object with a string
/// `type`; binary frames start with a big-endian 32-bit event type. Returns nil only for a frame
/// that is not a ComfyUI message at all (not JSON, or shorter than its header).
package enum ComfyMessageDecoder {
    /// Decodes a text frame.
    package static func decode(text: String) -> ComfyEvent? {
        guard let message = try? JSONValue(parsing: Array(text.utf8)), let type = message["type"]?.stringValue else {
            return nil
        }
        let data = message["data"] ?? .null
        let promptID = data["prompt_id"]?.stringValue
        switch type {
        case "status":
            return .status(
                queueRemaining: data["status"]?["exec_info"]?["queue_remaining"]?.intValue,
                sid: data["sid"]?.stringValue, data: data)
        case "execution_start":
            guard let promptID else { break }
            return .executionStart(promptID: promptID, data: data)
        case "execution_cached":
            guard let promptID else { break }
            return .executionCached(promptID: promptID, nodes: strings(data["nodes"]), data: data)
        case "executing":
            return .executing(
                promptID: promptID, node: data["node"]?.stringValue, displayNode: data["display_node"]?.stringValue,
                data: data)
        case "progress":
            guard let value = data["value"]?.doubleValue, let max = data["max"]?.doubleValue else { break }
            return .progress(promptID: promptID, node: data["node"]?.stringValue, value: value, max: max, data: data)
        case "progress_state":
            return .progressState(promptID: promptID, data: data)
        case "executed":
            guard let promptID, let node = data["node"]?.stringValue else { break }
            return .executed(promptID: promptID, node: node, output: data["output"] ?? .null, data: data)
        case "execution_success":
            guard let promptID else { break }
            return .executionSuccess(promptID: promptID, data: data)
        case "execution_error":
            guard let promptID else { break }
            let failure = ComfyExecutionFailure(
                nodeID: data["node_id"]?.stringValue, nodeType: data["node_type"]?.stringValue,
                exceptionType: data["exception_type"]?.stringValue ?? "",
                exceptionMessage: data["exception_message"]?.stringValue ?? "",
                traceback: strings(data["traceback"]))
            return .executionError(promptID: promptID, failure: failure, data: data)
        case "execution_interrupted":
            guard let promptID else { break }
            return .executionInterrupted(
                promptID: promptID, nodeID: data["node_id"]?.stringValue, nodeType: data["node_type"]?.stringValue,
                data: data)
        case "feature_flags":
            return .featureFlags(data: data)
        default:
            break
        }
        // A known type without the fields it should have is still passed on, not dropped.
        return .other(type: type, data: data)
    }

    /// Decodes a binary frame; a frame of a known type whose header does not parse is passed on
    /// as `binary`, like an unknown type.
    package static func decode(binary bytes: [UInt8]) -> ComfyEvent? {
        guard let eventType = uint32(bytes, at: 0) else { return nil }
        switch eventType {
        case 1:
            if let format = uint32(bytes, at: 4) { return .preview(format: format, image: Array(bytes[8...])) }
        case 3:
            if let length = uint32(bytes, at: 4).map(Int.init), bytes.count - 8 >= length {
                let nodeID = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
                return .text(nodeID: nodeID, text: String(decoding: bytes[(8 + length)...], as: UTF8.self))
            }
        case 4:
            if let length = uint32(bytes, at: 4).map(Int.init), bytes.count - 8 >= length,
                let metadata = try? JSONValue(parsing: Array(bytes[8..<(8 + length)]))
            {
                return .previewWithMetadata(metadata: metadata, frame: bytes)
            }
        default:
            break
        }
        return .binary(eventType: eventType, payload: Array(bytes[4...]))
    }

    private static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32? {
        guard bytes.count >= offset + 4 else { return nil }
        return bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private static func strings(_ value: JSONValue?) -> [String] {
        value?.arrayValue?.compactMap(\.stringValue) ?? []
    }
}
