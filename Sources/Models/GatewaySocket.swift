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
/// every socket, so the first socket keeps the frame it encoded in `frame` and the others write
/// those same bytes. Not `Sendable`: made and sent on the loop.
package final class OutboundMessage {
    /// Text (UTF-8 JSON) or binary.
    package let isText: Bool
    package let payload: [UInt8]
    /// The whole WebSocket frame (server to client, unmasked) of this message, once a socket has
    /// encoded it.
    package var frame: [UInt8]?

    package init(text: [UInt8]) {
        isText = true
        payload = text
    }

    package init(binary: [UInt8]) {
        isText = false
        payload = binary
    }
}
