/// Everything one end of a WebSocket does with received bytes, without I/O: decodes frames,
/// assembles messages, answers pings, runs the closing handshake and fails the connection on a
/// protocol error. The server's `WebSocket` and the client share it; they only perform the
/// events it returns.
package struct WebSocketReceiver: Sendable {
    /// What to do after receiving bytes.
    package enum Event: Sendable, Equatable {
        /// A data message for the application.
        case message(WebSocketMessage)
        /// Send a control frame, close, or both (see `WebSocketCloseStateMachine.Action`).
        case perform(WebSocketCloseStateMachine.Action)
        /// A pong arrived with this payload, after the messages returned before it.
        case pong([UInt8])
    }

    private var decoder: WebSocketFrameDecoder
    private var assembler: WebSocketMessageAssembler
    /// The closing handshake; `close`, `connectionClosed` and `state` go through it.
    package private(set) var closing: WebSocketCloseStateMachine

    package init(role: WebSocketFrameDecoder.Role, maxMessageSize: Int) {
        decoder = WebSocketFrameDecoder(role: role, maxFrameSize: maxMessageSize)
        assembler = WebSocketMessageAssembler(maxMessageSize: maxMessageSize)
        closing = WebSocketCloseStateMachine(role: role)
    }

    /// Decodes `bytes`; data messages arrive only while the connection is open.
    package mutating func receive(_ bytes: [UInt8]) -> [Event] {
        decoder.append(bytes)
        var events: [Event] = []
        do {
            while closing.state != .closed, let part = try decoder.next() {
                guard let message = try assembler.consume(part) else { continue }
                switch message {
                case .text(let text): if closing.state == .open { events.append(.message(.text(text))) }
                case .binary(let data): if closing.state == .open { events.append(.message(.binary(data))) }
                case .ping(let payload): events.append(.perform(closing.receivedPing(payload)))
                case .pong(let payload): if closing.state == .open { events.append(.pong(payload)) }
                case .close(let code, let reason):
                    events.append(.perform(closing.receivedClose(code: code, reason: reason)))
                }
            }
        } catch {
            events.append(.perform(closing.failed(error)))
        }
        return events
    }

    /// Starts the closing handshake.
    package mutating func close(code: UInt16, reason: String) -> WebSocketCloseStateMachine.Action {
        closing.close(code: code, reason: reason)
    }

    /// The TCP connection ended.
    package mutating func connectionClosed() {
        closing.connectionClosed()
    }
}
