/// A gateway WebSocket as the layers below Entry see it: Entry adapts the server's socket to
/// it, `MoleculeSessions` delivers to it. Every call happens on the loop.
package protocol GatewaySocket: AnyObject {
    /// Queues `message` behind what is already queued, without waiting; false when the socket
    /// is closing or closed.
    func enqueue(_ message: OutboundMessage) -> Bool
    /// Bytes queued on this socket and not yet taken by the kernel.
    var queuedBytes: Int { get }
    /// Starts the closing handshake with `code`.
    func close(code: UInt16, reason: String)
}

/// One message for gateway sockets, text or binary. A broadcast hands the same instance to
/// every socket, so a socket may keep its encoded frame in `encoded` and the next socket
/// reuses it. Loop-bound.
package final class OutboundMessage: @unchecked Sendable {
    /// Text (UTF-8 JSON) or binary.
    package let isText: Bool
    package let payload: [UInt8]
    /// The frame a socket encoded for this message, for the next socket to reuse.
    package var encoded: AnyObject?

    package init(text: [UInt8]) {
        isText = true
        payload = text
    }

    package init(binary: [UInt8]) {
        isText = false
        payload = binary
    }
}
