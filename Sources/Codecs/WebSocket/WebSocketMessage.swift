/// A whole data message as an application sees it, on either end of a WebSocket.
package enum WebSocketMessage: Sendable, Equatable {
    case text(String)
    case binary([UInt8])

    /// What an unread message counts for against an inbox's limit: its payload plus a fixed
    /// overhead, so a flood of empty messages counts too.
    package var inboxSize: Int {
        switch self {
        case .text(let text): text.utf8.count + 64
        case .binary(let bytes): bytes.count + 64
        }
    }
}
