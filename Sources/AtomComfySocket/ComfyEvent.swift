package import Codecs

/// What ComfyUI's `/ws` says, typed (`docs/comfyui.md`, "WebSocket events" and "Binary frames").
/// Every JSON message type has a case; a type this list does not know arrives as `other`, never
/// dropped. Each case keeps the raw `data` object too, so nothing ComfyUI adds is lost.
package enum ComfyEvent: Sendable, Equatable {
    /// Queue status; `sid` only on the first frame of a connection.
    case status(queueRemaining: Int?, sid: String?, data: JSONValue)
    case executionStart(promptID: String, data: JSONValue)
    /// Nodes whose cached outputs are reused (they get no `executing`).
    case executionCached(promptID: String, nodes: [String], data: JSONValue)
    /// A node starts; `node` nil means the prompt is done and its history is readable. After a
    /// reconnect the first one carries neither `promptID` nor `displayNode`.
    case executing(promptID: String?, node: String?, displayNode: String?, data: JSONValue)
    case progress(promptID: String?, node: String?, value: Double, max: Double, data: JSONValue)
    case progressState(promptID: String?, data: JSONValue)
    /// A node produced UI output (`output` may be null for a cached output node).
    case executed(promptID: String, node: String, output: JSONValue, data: JSONValue)
    case executionSuccess(promptID: String, data: JSONValue)
    case executionError(promptID: String, failure: ComfyExecutionFailure, data: JSONValue)
    case executionInterrupted(promptID: String, nodeID: String?, nodeType: String?, data: JSONValue)
    /// The server's answer to feature-flag negotiation.
    case featureFlags(data: JSONValue)
    /// A message type not listed above (custom nodes, newer ComfyUI versions), passed through.
    case other(type: String, data: JSONValue)
    /// Binary type 1: an encoded preview image, `format` 1 = JPEG, 2 = PNG.
    case preview(format: UInt32, image: [UInt8])
    /// Binary type 4: a preview with its metadata (`prompt_id`, `node_id`, `image_type`, ...),
    /// and the whole frame as ComfyUI sent it, so it is passed on byte for byte (the metadata is
    /// not serialized again).
    case previewWithMetadata(metadata: JSONValue, frame: [UInt8])
    /// Binary type 3: text a node sends (progress text).
    case text(nodeID: String, text: String)
    /// A binary frame of another event type, passed through whole.
    case binary(eventType: UInt32, payload: [UInt8])
}

/// The details of an `execution_error`.
package struct ComfyExecutionFailure: Sendable, Equatable {
    package let nodeID: String?
    package let nodeType: String?
    package let exceptionType: String
    package let exceptionMessage: String
    package let traceback: [String]

    package init(
        nodeID: String?, nodeType: String?, exceptionType: String, exceptionMessage: String, traceback: [String]
    ) {
        self.nodeID = nodeID
        self.nodeType = nodeType
        self.exceptionType = exceptionType
        self.exceptionMessage = exceptionMessage
        self.traceback = traceback
    }
}

extension ComfyEvent {
    /// A type-4 preview frame built from its parts (u32 4, u32 metadata length, the metadata's
    /// JSON, the image), for producers and tests; decoded frames keep ComfyUI's own bytes.
    package static func previewWithMetadata(metadata: JSONValue, image: [UInt8]) -> ComfyEvent {
        let json = metadata.serialized()
        var frame: [UInt8] = [0, 0, 0, 4]
        let length = UInt32(json.count)
        frame += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        return .previewWithMetadata(metadata: metadata, frame: frame + json + image)
    }

    /// The image bytes of a preview (type 1 or 4), nil for any other event.
    package var previewImage: [UInt8]? {
        switch self {
        case .preview(_, let image): return image
        case .previewWithMetadata(_, let frame):
            guard frame.count >= 8 else { return nil }
            let length = Int(frame[4]) << 24 | Int(frame[5]) << 16 | Int(frame[6]) << 8 | Int(frame[7])
            return frame.count >= 8 + length ? Array(frame[(8 + length)...]) : nil
        default: return nil
        }
    }
}

extension ComfyEvent {
    /// True for the messages a prompt's client may be sent exactly as ComfyUI wrote them
    /// (`executing`, `progress`, `executed`): their text is kept with the event.
    package var isForwardedAsSent: Bool {
        switch self {
        case .executing, .progress, .executed: true
        default: false
        }
    }
}
