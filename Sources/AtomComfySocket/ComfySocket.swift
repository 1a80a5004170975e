import Client
import Codecs
import FoundationEssentials
import Models
package import Reactor

/// The gateway's one WebSocket to ComfyUI's `/ws`: connects as the configured client id (or a
/// fresh one each time), decodes every frame into a `ComfyEvent`, and reconnects after any drop
/// with capped exponential backoff and jitter, reporting each connect, failed attempt and
/// disconnect as an event. Runs on the loop from `run()` until `stop()`.
///
/// With a fixed id, prompts submitted with it keep reporting to the new connection after a
/// reconnect. ComfyUI unregisters an id when its old socket's handler ends, even if a new socket
/// took the id meanwhile (`docs/comfyui.md`, "Connecting and client ids"), so a reconnect after a
/// drop waits one backoff step first, long after ComfyUI has let go of the old socket.
/// `@unchecked Sendable`: `UpstreamEvents` holds it; `run()` and `stop()` run on the loop.
package final class ComfySocket: @unchecked Sendable {
    /// Where ComfyUI is and how to reconnect.
    package struct Configuration: Sendable {
        package var host: String
        package var port: Int
        package var path = "/ws"
        /// The client id of every connection; nil picks a fresh one per connection.
        package var clientID: String?
        /// The first retry delay; each failed attempt doubles it, up to `maxBackoff`.
        package var initialBackoff: Duration = .milliseconds(250)
        package var maxBackoff: Duration = .seconds(30)
        /// The largest message taken from ComfyUI: an `executed` message carries a node's whole
        /// output (a `PreviewAny` of a long text runs to tens of MB), and a larger one drops the
        /// one socket every client depends on.
        package var maxMessageSize = 256 * 1024 * 1024
        /// How long a connection must last for the next drop to start the backoff over.
        package var stableAfter: Duration = .seconds(30)
        package var connectTimeout: Duration = .seconds(10)
        /// Ask for previews with metadata (binary type 4, which names the prompt and node).
        package var negotiatePreviewMetadata = true
        /// Events not taken yet, in bytes, beyond which the socket stops reading.
        package var maxUnreadEventBytes = 4 * 1024 * 1024

        package init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// What the socket reports, in order.
    package enum Event: Sendable, Equatable {
        /// Connected as `clientID`: submit prompts with this id to get their events here.
        case connected(clientID: String)
        /// A connection attempt failed; the next comes after `retryIn`.
        case connectFailed(reason: String, retryIn: Duration)
        /// The connection as `clientID` ended.
        case disconnected(clientID: String, reason: String)
        /// An event, with ComfyUI's text frame it came in when it is one a client may be sent
        /// as it is (`executing`, `progress`, `executed`).
        case message(ComfyEvent, text: [UInt8]?)
        /// The barrier `token` (`requestBarrier`) passed: every event ComfyUI sent before it
        /// answered the barrier's ping came before this.
        case barrier(UInt64)

        var size: Int {
            switch self {
            case .message(.preview(_, let bytes), _), .message(.previewWithMetadata(_, let bytes), _): bytes.count + 256
            case .message(.binary(_, let payload), _): payload.count + 256
            case .message(_, let text?): text.count + 256
            default: 512
            }
        }
    }

    package let loop: EventLoop
    package let configuration: Configuration
    /// The events, ending after `stop()`.
    package private(set) var events: MessageInbox<Event>!
    /// The client id of the current connection, nil while disconnected.
    package private(set) var clientID: String?
    private var client: WebSocketClient?
    private var stopped = false
    private var sleepTimer: LoopTimer?
    private var waitingAfterFailure = false
    private var paused = false
    private var resumeWaiter: CheckedContinuation<Void, Never>?
    /// Messages of the current connection whose events have been handed on.
    private var handedOn = 0
    /// Barriers whose pong came while messages before it were still being handed on: each is
    /// emitted once `handedOn` reaches its count.
    private var pendingBarriers: [(count: Int, token: UInt64)] = []

    package init(loop: EventLoop, configuration: Configuration) {
        self.loop = loop
        self.configuration = configuration
        events = MessageInbox(
            highWaterMark: configuration.maxUnreadEventBytes, lowWaterMark: configuration.maxUnreadEventBytes / 4,
            size: \.size, pause: { [weak self] in self?.paused = true },
            resume: { [weak self, loop] in
                let socket = self
                loop.execute { socket?.resumeReading() }
            })
    }

    /// A fresh client id: 32 lowercase hex digits, the form ComfyUI itself generates.
    package static func newClientID() -> String {
        UUID().uuidString.lowercased().filter { $0 != "-" }
    }

    /// Connects, reads and reconnects until `stop()`.
    package func run() async {
        loop.assertInLoop()
        var failures = 0
        while !stopped {
            let id = configuration.clientID ?? Self.newClientID()
            let url = "ws://\(configuration.host):\(configuration.port)\(configuration.path)?clientId=\(id)"
            var options = WebSocketClient.Options()
            options.connectTimeout = configuration.connectTimeout
            options.handshakeTimeout = configuration.connectTimeout
            options.maxMessageSize = configuration.maxMessageSize
            do {
                let client = try await WebSocketClient.connect(to: url, loop: loop, options: options)
                guard !stopped else {
                    client.close(code: 1000, reason: "gateway stopping")
                    abortAfterGrace(client)
                    break
                }
                let connectedAt = ContinuousClock.now
                await serve(client, as: id)
                // A connection that dropped soon after it opened (an upstream that fails every
                // connection the same way) counts as a failure, so the pace of retries backs off;
                // one that lived a while starts the backoff over.
                if ContinuousClock.now - connectedAt >= configuration.stableAfter {
                    failures = 0
                } else {
                    failures += 1
                }
                await sleep(backoff(after: failures))
            } catch {
                guard !stopped else { break }
                let delay = backoff(after: failures)
                failures += 1
                await emit(.connectFailed(reason: "\(error)", retryIn: delay))
                waitingAfterFailure = true
                await sleep(delay)
                waitingAfterFailure = false
            }
        }
        events.finish()
    }

    /// Calls `body` with each event, in order, until the events end (after `stop()`).
    package func forEachEvent(_ body: (Event) -> Void) async {
        for await event in events { body(event) }
    }

    /// Stops: closes the connection (code 1000; dropped if ComfyUI does not answer within 2 s),
    /// ends `run()` and the events.
    package func stop() {
        loop.assertInLoop()
        stopped = true
        if let client {
            client.close(code: 1000, reason: "gateway stopping")
            abortAfterGrace(client)
        }
        sleepTimer?.close()
        resumeReading()
    }

    /// Ends the backoff wait after a failed connection attempt, so the next attempt starts now.
    /// Does nothing while connected, or while waiting after a drop (ComfyUI must let go of the
    /// old connection's id first).
    package func reconnectNow() {
        loop.assertInLoop()
        guard client == nil, waitingAfterFailure else { return }
        sleepTimer?.close()
    }

    /// Drops `client` if its closing handshake has not ended within 2 s.
    private func abortAfterGrace(_ client: WebSocketClient) {
        let timer = LoopTimer(loop: loop)
        timer.start(afterMilliseconds: 2000) {
            client.abort()
            timer.close()
        }
        timer.unref()
    }

    private func serve(_ client: WebSocketClient, as id: String) async {
        self.client = client
        clientID = id
        handedOn = 0
        pendingBarriers.removeAll()
        client.onPong = { [weak self] payload, count in self?.pongArrived(payload, after: count) }
        await emit(.connected(clientID: id))
        if configuration.negotiatePreviewMetadata {
            try? await client.send(text: #"{"type":"feature_flags","data":{"supports_preview_metadata":true}}"#)
        }
        for await message in client.messages {
            switch message {
            case .text(let text):
                if let event = ComfyMessageDecoder.decode(text: text) {
                    await emit(.message(event, text: event.isForwardedAsSent ? Array(text.utf8) : nil))
                }
            case .binary(let bytes):
                if let event = ComfyMessageDecoder.decode(binary: bytes) { await emit(.message(event, text: nil)) }
            }
            handedOn += 1
            while let first = pendingBarriers.first, first.count <= handedOn {
                pendingBarriers.removeFirst()
                events.yield(.barrier(first.token))
            }
        }
        self.client = nil
        clientID = nil
        let close = client.peerClose ?? (1006, "")
        let reason = close.reason.isEmpty ? "closed with \(close.code)" : "closed with \(close.code) \(close.reason)"
        await emit(.disconnected(clientID: id, reason: reason))
    }

    /// Sends a ping carrying `token`; once ComfyUI's pong is back and every message that came
    /// before it has been handed on, `.barrier(token)` follows them. False when not connected
    /// (no barrier will come).
    package func requestBarrier(_ token: UInt64) async -> Bool {
        guard let client else { return false }
        let payload = (0..<8).map { UInt8(truncatingIfNeeded: token >> (56 - 8 * UInt64($0))) }
        do {
            try await client.ping(payload)
            return true
        } catch {
            return false
        }
    }

    private func pongArrived(_ payload: [UInt8], after count: Int) {
        guard payload.count == 8 else { return }
        let token = payload.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if count <= handedOn {
            events.yield(.barrier(token))
        } else {
            pendingBarriers.append((count, token))
        }
    }

    /// Hands an event over, waiting while the consumer is too far behind.
    private func emit(_ event: Event) async {
        events.yield(event)
        if paused && !stopped {
            await withCheckedContinuation { resumeWaiter = $0 }
        }
    }

    private func resumeReading() {
        paused = false
        resumeWaiter?.resume()
        resumeWaiter = nil
    }

    /// Full backoff for the `failures`-th retry, with "equal jitter": half fixed, half random, so
    /// many gateways restarting together do not reconnect in lockstep.
    package func backoff(after failures: Int) -> Duration {
        let base = configuration.initialBackoff * Int(1 << min(failures, 20))
        let capped = min(base, configuration.maxBackoff)
        return capped / 2 + capped / 2 * Double.random(in: 0...1)
    }

    private func sleep(_ delay: Duration) async {
        guard !stopped else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let timer = LoopTimer(loop: loop)
            sleepTimer = timer
            timer.onClose = { continuation.resume() }
            timer.start(after: delay) { timer.close() }
        }
        sleepTimer = nil
    }
}
