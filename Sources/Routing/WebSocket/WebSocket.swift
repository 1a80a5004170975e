package import Codecs
package import Reactor

/// One accepted WebSocket on the server side: an async sequence of incoming messages, and
/// `send(text:)`, `send(binary:)`, `close(code:reason:)`. Pings are answered, idle peers are
/// pinged, the closing handshake is run by `WebSocketCloseStateMachine`, and protocol errors
/// fail the connection with their close code (1002, 1007, 1009). Sends wait while the socket is
/// backed up. Loop-bound.
package final class WebSocket: TCPConnectionDelegate {
    /// A data message.
    package typealias Message = WebSocketMessage

    /// Why a send failed.
    package enum SendError: Error, Equatable {
        /// The socket is closing or closed.
        case closed
    }

    /// The chosen subprotocol, if any.
    package let subprotocol: String?
    /// Incoming data messages; ends when the connection closes. Reading stops while more than
    /// `maxUnreadBytes` of them wait unread.
    package let messages: MessageInbox<Message>
    private let tcp: TCPConnection
    private let configuration: WebSocketConfiguration
    private var receiver: WebSocketReceiver
    private var timer: LoopTimer?
    private var lastActivity = ContinuousClock.now
    private var pingSentAt: ContinuousClock.Instant?
    private var closeDeadline: ContinuousClock.Instant?
    private var onClosed: (() -> Void)?
    private let traffic: ServerTraffic

    init(
        tcp: TCPConnection, configuration: WebSocketConfiguration, subprotocol: String?, leftover: [UInt8],
        traffic: ServerTraffic, onClosed: @escaping () -> Void
    ) {
        self.traffic = traffic
        self.tcp = tcp
        self.configuration = configuration
        self.subprotocol = subprotocol
        self.onClosed = onClosed
        receiver = WebSocketReceiver(role: .server, maxMessageSize: configuration.maxMessageSize)
        messages = MessageInbox(pausing: tcp, limit: configuration.maxUnreadBytes, size: \.inboxSize)
        tcp.delegate = self
        startTimer()
        if !leftover.isEmpty { connection(tcp, didRead: leftover) }
        tcp.startReading()
    }

    /// The close code and reason the peer sent (1006 when the connection dropped without one).
    package var peerClose: (code: UInt16, reason: String)? { receiver.closing.peerClose }

    /// Calls `body` with each incoming message, in order, until the connection closes.
    package func forEachMessage(_ body: (Message) async -> Void) async {
        for await message in messages { await body(message) }
    }

    /// Sends a text message.
    package func send(text: String) async throws {
        try await send(WebSocketFrame(opcode: .text, payload: Array(text.utf8)))
    }

    /// Sends a binary message.
    package func send(binary: [UInt8]) async throws {
        try await send(WebSocketFrame(opcode: .binary, payload: binary))
    }

    /// Sends a message encoded once by `PreparedMessage` (a broadcast encodes once, then writes
    /// the same bytes to every socket).
    package func send(_ message: PreparedMessage) async throws {
        guard receiver.closing.canSendData, !tcp.isClosed else { throw SendError.closed }
        tcp.write(message.bytes)
        traffic.webSocketBytes += message.bytes.count
        try await tcp.waitUntilWritable()
    }

    /// Queues a prepared message without waiting, however backed up the socket is; false when
    /// the socket is closing or closed. The caller bounds the queue with `queuedBytes`.
    package func enqueue(_ message: PreparedMessage) -> Bool {
        guard receiver.closing.canSendData, !tcp.isClosed else { return false }
        tcp.write(message.bytes)
        traffic.webSocketBytes += message.bytes.count
        return true
    }

    /// Bytes written to this socket and not yet taken by the kernel.
    package var queuedBytes: Int { tcp.pendingWriteBytes }

    private func send(_ frame: WebSocketFrame) async throws {
        guard receiver.closing.canSendData, !tcp.isClosed else { throw SendError.closed }
        write(frame)
        try await tcp.waitUntilWritable()
    }

    /// Starts the closing handshake with `code` (1000 by default); the connection closes when the
    /// peer answers or after `closeTimeout`.
    package func close(code: UInt16 = 1000, reason: String = "") {
        perform(receiver.close(code: code, reason: reason))
        if receiver.closing.state == .closing {
            closeDeadline = ContinuousClock.now.advanced(by: configuration.closeTimeout)
        }
    }

    private func write(_ frame: WebSocketFrame) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frame.payload.count + 10)
        WebSocketFrameEncoder.encode(frame, into: &bytes)
        tcp.write(bytes)
        traffic.webSocketBytes += bytes.count
    }

    private func perform(_ action: WebSocketCloseStateMachine.Action) {
        switch action {
        case .none:
            break
        case .send(let frame):
            write(frame)
        case .sendAndClose(let frame):
            write(frame)
            messages.finish()
            tcp.closeGracefully()
        case .closeConnection:
            messages.finish()
            tcp.closeGracefully()
        }
    }

    // MARK: Timers

    private func startTimer() {
        let timer = LoopTimer(loop: tcp.loop)
        self.timer = timer
        let tick = max(configuration.pingInterval / 4, .milliseconds(10))
        // Unowned, not weak: a weak reference would make every retain of the socket take the slow
        // path. The timer is closed when the connection closes, before the socket can go away.
        timer.start(every: tick) { [unowned self] in checkTimers() }
    }

    private func checkTimers() {
        let now = ContinuousClock.now
        if let closeDeadline, now >= closeDeadline {
            tcp.close()
            return
        }
        if let pingSentAt {
            if now - pingSentAt >= configuration.pingInterval { tcp.close() }
            return
        }
        if now - lastActivity >= configuration.pingInterval && receiver.closing.state == .open {
            write(WebSocketFrame(opcode: .ping, payload: []))
            pingSentAt = now
        }
    }

    // MARK: TCPConnectionDelegate

    package func connection(_ connection: TCPConnection, didRead bytes: [UInt8]) {
        lastActivity = ContinuousClock.now
        pingSentAt = nil
        for event in receiver.receive(bytes) {
            switch event {
            case .message(let message): messages.yield(message)
            case .perform(let action): perform(action)
            case .pong: break
            }
        }
    }

    package func connectionDidReadEOF(_ connection: TCPConnection) {
        receiver.connectionClosed()
        messages.finish()
        tcp.close()
    }

    package func connectionDidBecomeWritable(_ connection: TCPConnection) {}

    package func connection(_ connection: TCPConnection, didCloseWith error: UVError?) {
        receiver.connectionClosed()
        messages.finish()
        timer?.close()
        timer = nil
        let onClosed = self.onClosed
        self.onClosed = nil
        onClosed?()
    }
}

extension WebSocketMessage {
    /// The text of a text message; nil for a binary one.
    package var text: String? {
        if case .text(let text) = self { text } else { nil }
    }
}
