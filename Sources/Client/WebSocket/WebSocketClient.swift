package import Codecs
package import Reactor

/// A WebSocket client on the reactor (RFC 6455, client role): connects to a `ws://` URL, runs
/// the opening handshake under a deadline, then exposes incoming messages as an async sequence
/// and sends masked frames with a fresh random key each. It sends no `Origin` unless given one
/// (ComfyUI rejects a mismatched origin). Pings are answered; protocol errors fail the
/// connection with their close code. Loop-bound.
package final class WebSocketClient: TCPConnectionDelegate {
    /// A data message.
    package typealias Message = WebSocketMessage

    /// Why connecting or sending failed.
    package enum Failure: Error, Equatable {
        case invalidURL(String)
        case connectFailed(String)
        case handshakeFailed(String)
        case timedOut
        case closed
    }

    /// How to connect.
    package struct Options: Sendable {
        package var protocols: [String] = []
        package var origin: String?
        package var headers: HTTPHeaders = HTTPHeaders()
        package var connectTimeout: Duration = .seconds(10)
        package var handshakeTimeout: Duration = .seconds(10)
        package var maxMessageSize = 16 * 1024 * 1024
        /// Received messages not read yet, in bytes, beyond which the client stops reading.
        package var maxUnreadBytes = 1024 * 1024

        package init() {}
    }

    /// Incoming data messages; ends when the connection closes. Reading stops while more than
    /// `Options.maxUnreadBytes` of them wait unread.
    package let messages: MessageInbox<Message>
    /// The subprotocol the server chose.
    package private(set) var subprotocol: String?
    /// Called on the loop for each pong, with its payload and the number of messages handed to
    /// `messages` before it (a reader that has taken that many has seen everything the peer sent
    /// before its pong: what a ping barrier waits for).
    package var onPong: (([UInt8], Int) -> Void)?
    /// Messages handed to `messages` so far.
    private var receivedCount = 0

    private let tcp: TCPConnection
    private let key: String
    private let options: Options
    private var responseDecoder = HTTPResponseDecoder()
    private var receiver: WebSocketReceiver
    private var handshake: CheckedContinuation<Void, any Error>?
    private var timer: LoopTimer?

    private init(tcp: TCPConnection, options: Options) {
        self.tcp = tcp
        self.options = options
        key = WebSocketHandshake.makeKey()
        receiver = WebSocketReceiver(role: .client, maxMessageSize: options.maxMessageSize)
        messages = MessageInbox(pausing: tcp, limit: options.maxUnreadBytes, size: \.inboxSize)
    }

    /// Connects to `url` (`ws://host[:port][/path][?query]`) and completes the handshake. Call it
    /// from a task on `loop`: the client it returns belongs to that loop.
    package static func connect(to url: String, loop: EventLoop, options: Options = Options()) async throws
        -> WebSocketClient
    {
        guard let target = EndpointURL(url), target.scheme == .ws else {
            throw Failure.invalidURL(
                url.lowercased().hasPrefix("ws://") ? url : "only ws:// URLs are supported: \(url)")
        }
        let timeout = UInt64(options.connectTimeout.components.seconds * 1000)
        let tcp: TCPConnection
        do {
            tcp = try await TCPConnector.connect(
                loop: loop, host: target.host, port: target.port, timeoutMilliseconds: max(timeout, 1)
            ).value
        } catch {
            throw Failure.connectFailed("\(error)")
        }
        let client = WebSocketClient(tcp: tcp, options: options)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            client.startHandshake(target: target, continuation: continuation)
        }
        return client
    }

    private func startHandshake(target: EndpointURL, continuation: CheckedContinuation<Void, any Error>) {
        handshake = continuation
        let head = WebSocketHandshake.request(
            target: target.resource, host: target.authority, key: key, protocols: options.protocols,
            origin: options.origin, extraHeaders: options.headers)
        var bytes: [UInt8] = []
        HTTPEncoder.encode(head, into: &bytes)
        responseDecoder.expectResponse(to: .get)
        tcp.delegate = self
        tcp.write(bytes)
        tcp.startReading()
        let timer = LoopTimer(loop: tcp.loop)
        self.timer = timer
        timer.start(after: options.handshakeTimeout) { [weak self] in
            self?.failHandshake(.timedOut)
        }
    }

    private func failHandshake(_ failure: Failure) {
        guard let handshake else { return }
        self.handshake = nil
        timer?.close()
        timer = nil
        tcp.close()
        handshake.resume(throwing: failure)
    }

    // MARK: Sending

    package func send(text: String) async throws {
        try await send(WebSocketFrame(opcode: .text, payload: Array(text.utf8)))
    }

    package func send(binary: [UInt8]) async throws {
        try await send(WebSocketFrame(opcode: .binary, payload: binary))
    }

    /// Sends a ping (the pong is consumed silently).
    package func ping(_ payload: [UInt8] = []) async throws {
        try await send(WebSocketFrame(opcode: .ping, payload: payload))
    }

    private func send(_ frame: WebSocketFrame) async throws {
        guard handshake == nil, receiver.closing.canSendData, !tcp.isClosed else { throw Failure.closed }
        write(frame)
        try await tcp.waitUntilWritable()
    }

    /// Starts the closing handshake; the server closes the TCP connection when it answers.
    package func close(code: UInt16 = 1000, reason: String = "") {
        perform(receiver.close(code: code, reason: reason))
    }

    /// Drops the TCP connection at once, without (or without finishing) the closing handshake:
    /// for a peer that does not answer a close.
    package func abort() {
        messages.finish()
        tcp.close()
    }

    /// The close code and reason the server sent (1006 when the connection dropped without one).
    package var peerClose: (code: UInt16, reason: String)? { receiver.closing.peerClose }

    private func write(_ frame: WebSocketFrame) {
        var generator = SystemRandomNumberGenerator()
        let mask = (0..<4).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frame.payload.count + 14)
        WebSocketFrameEncoder.encode(frame, maskingKey: mask, into: &bytes)
        tcp.write(bytes)
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
            tcp.shutdownWrite()
        case .closeConnection:
            messages.finish()
            tcp.close()
        }
    }

    // MARK: TCPConnectionDelegate

    package func connection(_ connection: TCPConnection, didRead bytes: [UInt8]) {
        if handshake != nil {
            readHandshake(bytes)
        } else {
            readFrames(bytes)
        }
    }

    private func readHandshake(_ bytes: [UInt8]) {
        responseDecoder.append(bytes)
        do {
            guard let part = try responseDecoder.next() else { return }
            guard case .head(let head) = part else { return }
            subprotocol = try WebSocketHandshake.validate(head, key: key, protocols: options.protocols)
            let leftover = responseDecoder.takeRemainingBytes()
            let handshake = self.handshake
            self.handshake = nil
            timer?.close()
            timer = nil
            handshake?.resume()
            if !leftover.isEmpty { readFrames(leftover) }
        } catch let rejection as WebSocketHandshake.Rejection {
            failHandshake(.handshakeFailed(rejection.message))
        } catch {
            failHandshake(.handshakeFailed("\(error)"))
        }
    }

    private func readFrames(_ bytes: [UInt8]) {
        for event in receiver.receive(bytes) {
            switch event {
            case .message(let message):
                receivedCount += 1
                messages.yield(message)
            case .perform(let action): perform(action)
            case .pong(let payload): onPong?(payload, receivedCount)
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
        failHandshake(.connectFailed("the connection closed during the handshake"))
        timer?.close()
        timer = nil
    }
}
