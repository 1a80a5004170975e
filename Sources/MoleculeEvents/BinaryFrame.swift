import AtomComfySocket
import Models

/// ComfyUI's binary `/ws` frames (`docs/comfyui.md`, "Binary frames") as the gateway's clients
/// get them, byte for byte as ComfyUI sent them: a big-endian 32-bit event type, then the type's
/// own layout. A type-4 preview carries its original frame; the others are framed again from
/// fields that round-trip exactly.
enum BinaryFrame {
    /// The frame of a binary event; nil for a text event.
    static func encode(_ event: ComfyEvent) -> [UInt8]? {
        var frame: [UInt8] = []
        switch event {
        case .preview(let format, let image):
            frame.reserveCapacity(image.count + 8)
            append(1, to: &frame)
            append(format, to: &frame)
            frame += image
        case .text(let nodeID, let text):
            append(3, to: &frame)
            append(UInt32(nodeID.utf8.count), to: &frame)
            frame += Array(nodeID.utf8)
            frame += Array(text.utf8)
        case .previewWithMetadata(_, let original):
            return original
        case .binary(let eventType, let payload):
            frame.reserveCapacity(payload.count + 4)
            append(eventType, to: &frame)
            frame += payload
        default:
            return nil
        }
        return frame
    }

    private static func append(_ value: UInt32, to frame: inout [UInt8]) {
        frame += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
