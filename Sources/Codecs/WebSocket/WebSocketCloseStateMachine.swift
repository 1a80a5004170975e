/// The closing handshake and ping handling of one WebSocket connection (RFC 6455 sections 5.5
/// and 7), without I/O: each event returns what to send and whether to drop the TCP connection.
///
/// A close is answered exactly once, echoing the peer's code (or with no code when the peer sent
/// none, since 1005 is never sent); 1005, 1006 and 1015 are never put on the wire; after a close
/// frame went out no data frame may follow. The server drops TCP as soon as the handshake is
/// complete; a client waits for the server to do it (section 7.1.1).
package struct WebSocketCloseStateMachine: Sendable {
    /// Where the connection is.
    package enum State: Sendable, Equatable {
        case open
        /// We sent a close frame and wait for the peer's.
        case closing
        /// Both close frames were exchanged (or the connection failed).
        case closed
    }

    /// What to do after an event.
    package enum Action: Sendable, Equatable {
        case none
        /// Send this control frame.
        case send(WebSocketFrame)
        /// Send this control frame, then close TCP (server side) or wait for the server to.
        case sendAndClose(WebSocketFrame)
        /// Close TCP now.
        case closeConnection
    }

    package let role: WebSocketFrameDecoder.Role
    package private(set) var state = State.open
    /// The code and reason of the close frame the peer sent, once it did.
    package private(set) var peerClose: (code: UInt16, reason: String)?

    package init(role: WebSocketFrameDecoder.Role) {
        self.role = role
    }

    /// True while data frames may be sent.
    package var canSendData: Bool { state == .open }

    /// The application closes with `code` (a code valid on the wire) and `reason`.
    package mutating func close(code: UInt16, reason: String = "") -> Action {
        guard state == .open else { return .none }
        precondition(WebSocketCloseCode.isValidOnTheWire(code), "close code \(code) may not be sent")
        state = .closing
        return .send(Self.closeFrame(code: code, reason: reason))
    }

    /// The peer's close frame arrived.
    package mutating func receivedClose(code: UInt16, reason: String) -> Action {
        switch state {
        case .open:
            peerClose = (code, reason)
            state = .closed
            let payload = code == 1005 ? [] : WebSocketFrameEncoder.closePayload(code: code)
            return .sendAndClose(WebSocketFrame(opcode: .close, payload: payload))
        case .closing:
            peerClose = (code, reason)
            state = .closed
            return role == .server ? .closeConnection : .none
        case .closed:
            return .none
        }
    }

    /// A ping arrived: answer with a pong carrying the same payload, unless closing.
    package mutating func receivedPing(_ payload: [UInt8]) -> Action {
        state == .open ? .send(WebSocketFrame(opcode: .pong, payload: payload)) : .none
    }

    /// The peer broke the protocol: fail the connection with the error's close code.
    package mutating func failed(_ error: WebSocketProtocolError) -> Action {
        switch state {
        case .open:
            state = .closed
            return .sendAndClose(Self.closeFrame(code: error.closeCode, reason: error.reason))
        case .closing:
            state = .closed
            return .closeConnection
        case .closed:
            return .none
        }
    }

    /// The TCP connection ended (the peer's close frame may never have come: 1006 locally).
    package mutating func connectionClosed() {
        if peerClose == nil { peerClose = (1006, "") }
        state = .closed
    }

    private static func closeFrame(code: UInt16, reason: String) -> WebSocketFrame {
        WebSocketFrame(opcode: .close, payload: WebSocketFrameEncoder.closePayload(code: code, reason: reason))
    }
}
