package import Codecs

/// A gateway WebSocket as the layers below Entry see it: the WebSocket route adapts the server's
/// socket to it, `MoleculeSessions` delivers to it. Messages are `PreparedMessage`s, framed once
/// when they are made, so a broadcast writes the same bytes to every socket. Every call happens
/// on the loop.
package protocol GatewaySocket: AnyObject {
    /// Queues `message` behind what is already queued, without waiting; false when the socket
    /// is closing or closed.
    func enqueue(_ message: PreparedMessage) -> Bool
    /// Bytes queued on this socket and not yet taken by the kernel.
    var queuedBytes: Int { get }
    /// Starts the closing handshake with `code`.
    func close(code: UInt16, reason: String)
}
