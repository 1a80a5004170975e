package import Codecs

/// The life of one server connection, without I/O: it takes events (bytes read, the response
/// finished, the peer's FIN, a timer firing) and returns the actions to perform. The driver
/// (`HTTPServerConnection`) performs them against a real socket; tests drive it with a manual
/// clock.
///
/// Requests are answered one at a time and in order: while a response is pending, the bytes of
/// pipelined requests wait in the decoder (reading pauses when they pass `maxBufferedBytes`) and
/// are parsed when the response completes. Timeouts: the head of a request must arrive within
/// `headerTimeout` of its first byte (or of the connection opening), an idle keep-alive connection
/// closes after `idleTimeout`, and a body that makes no progress for `bodyTimeout` fails with 408.
package struct HTTPServerConnectionStateMachine<C: Clock> where C.Duration == Duration {
    /// The connection's timeouts.
    package struct Timeouts: Sendable, Equatable {
        package var header: Duration
        package var idle: Duration
        package var body: Duration

        package init(header: Duration = .seconds(10), idle: Duration = .seconds(60), body: Duration = .seconds(30)) {
            self.header = header
            self.idle = idle
            self.body = body
        }
    }

    /// What the driver must do.
    package enum Action: Equatable {
        /// Start the handler for this request; its body follows as `bodyPart`/`bodyEnd`.
        case dispatch(HTTPRequestHead)
        case bodyPart([UInt8])
        case bodyEnd
        /// The body failed; the handler's body stream throws this.
        case bodyFailed(RequestBodyError)
        /// Write `HTTP/1.1 100 Continue`.
        case sendContinue
        /// Answer with this error (no handler runs), then close.
        case respondWithError(HTTPError)
        /// Close the connection (gracefully: queued bytes are written first).
        case close
        /// Arm the connection's timer for this instant (replacing any earlier one).
        case scheduleTimeout(C.Instant)
        case cancelTimeout
        case pauseReading
        case resumeReading
        /// The client closed its side while a handler runs: cancel the handler, as a proxy does
        /// (its upstream request is abandoned instead of holding a connection nobody waits for).
        case cancelHandler
    }

    private enum Phase: Equatable {
        /// Between requests; `fresh` for a connection that has not sent a request yet.
        case idle(fresh: Bool)
        /// Part of a head has arrived.
        case head
        /// The handler runs and the body is still arriving.
        case body(received: Int, limit: Int)
        /// The body is complete (or abandoned); the response is pending.
        case responding
        /// Nothing more is read or answered.
        case closed
    }

    private let clock: C
    private let timeouts: Timeouts
    private let bodyLimit: (HTTPRequestHead) -> Int
    private let maxBufferedBytes: Int
    private var decoder: HTTPRequestDecoder
    private var phase = Phase.idle(fresh: true)
    private var keepAlive = true
    private var inputEnded = false
    private var ignoreInput = false
    private var shuttingDown = false
    private var pausedForPipeline = false
    private var deadline: C.Instant?

    /// - Parameters:
    ///   - bodyLimit: the largest body the route of a request accepts (413 beyond).
    ///   - maxBufferedBytes: unparsed bytes of pipelined requests above which reading pauses.
    package init(
        clock: C, timeouts: Timeouts = Timeouts(), limits: HTTPLimits = HTTPLimits(),
        maxBufferedBytes: Int = 128 * 1024, bodyLimit: @escaping (HTTPRequestHead) -> Int
    ) {
        self.clock = clock
        self.timeouts = timeouts
        self.bodyLimit = bodyLimit
        self.maxBufferedBytes = maxBufferedBytes
        decoder = HTTPRequestDecoder(limits: limits)
    }

    /// True when no request is in progress (used by graceful shutdown).
    package var isIdle: Bool {
        if case .idle = phase { return true }
        return false
    }

    /// True when the connection will close once the current response is written: the request
    /// said so, the server is shutting down, or its body was not (or cannot be) read to the end.
    /// The response then carries `Connection: close`.
    package var closesAfterResponse: Bool {
        if case .body = phase { return true }
        return !keepAlive || shuttingDown || ignoreInput
    }

    /// The connection was accepted: the first request's head must arrive in time.
    package mutating func connectionOpened() -> [Action] {
        [arm(timeouts.header)]
    }

    /// Bytes arrived.
    package mutating func bytesReceived(_ bytes: [UInt8]) -> [Action] {
        var actions: [Action] = []
        bytesReceived(bytes, into: &actions)
        return actions
    }

    /// Bytes arrived; the actions are appended to `actions` (the driver's queue: no array is
    /// made per event on the hot path).
    package mutating func bytesReceived(_ bytes: [UInt8], into actions: inout [Action]) {
        guard phase != .closed, !ignoreInput else { return }
        decoder.append(bytes)
        parse(into: &actions)
    }

    /// The handler's response has been fully handed to the socket.
    package mutating func responseCompleted() -> [Action] {
        var actions: [Action] = []
        responseCompleted(into: &actions)
        return actions
    }

    /// The handler's response has been fully handed to the socket; the actions are appended to
    /// `actions`.
    package mutating func responseCompleted(into actions: inout [Action]) {
        switch phase {
        case .body:
            phase = .closed
            actions.append(.cancelTimeout)
            actions.append(.close)
            return
        case .responding:
            break
        case .idle, .head, .closed:
            return
        }
        guard keepAlive, !shuttingDown, !ignoreInput else {
            phase = .closed
            actions.append(.cancelTimeout)
            actions.append(.close)
            return
        }
        phase = .idle(fresh: false)
        if pausedForPipeline {
            pausedForPipeline = false
            actions.append(.resumeReading)
        }
        parse(into: &actions)
        if case .idle = phase {
            if inputEnded {
                phase = .closed
                actions.append(.cancelTimeout)
                actions.append(.close)
            } else {
                actions.append(arm(timeouts.idle))
            }
        }
    }

    /// The connection switched protocols (a WebSocket upgrade was accepted): HTTP ends here, and
    /// the bytes received after the upgrade request are returned for the new protocol.
    package mutating func upgraded() -> [UInt8] {
        phase = .closed
        deadline = nil
        return decoder.takeRemainingBytes()
    }

    /// The upgrade the current request asked for was refused (its answer has been written): the
    /// connection closes, since the bytes after an upgrade request are not known to be HTTP.
    package mutating func upgradeRefused() -> [Action] {
        phase = .closed
        deadline = nil
        return [.cancelTimeout, .close]
    }

    /// The connection closed (or the driver closed it): nothing more is parsed or dispatched.
    package mutating func connectionClosed() -> [Action] {
        phase = .closed
        deadline = nil
        return []
    }

    /// The server stopped reading because the handler has not consumed the body yet: the body's
    /// progress timeout is suspended, since the client is not the one stalling.
    package mutating func bodyReadingPaused() -> [Action] {
        if case .body = phase { deadline = nil }
        return []
    }

    /// Reading resumed: the body's progress timeout starts again.
    package mutating func bodyReadingResumed() -> [Action] {
        guard case .body = phase else { return [] }
        return [arm(timeouts.body)]
    }

    /// The peer sent FIN: no more requests will come. A handler still running is cancelled, as a
    /// proxy does when its client leaves (`cancelHandler`: its upstream work is abandoned, or,
    /// for a request that is not safe to repeat, given a short grace); requests already received
    /// behind it are still answered.
    package mutating func peerClosed() -> [Action] {
        inputEnded = true
        switch phase {
        case .idle, .head:
            phase = .closed
            return [.cancelTimeout, .close]
        case .body:
            phase = .responding
            ignoreInput = true
            return [.cancelTimeout, .bodyFailed(.incomplete), .cancelHandler]
        case .responding:
            return [.cancelHandler]
        case .closed:
            return []
        }
    }

    /// The timer fired.
    package mutating func timeoutFired() -> [Action] {
        guard let deadline else { return [] }
        guard clock.now >= deadline else { return [.scheduleTimeout(deadline)] }
        self.deadline = nil
        switch phase {
        case .idle:
            phase = .closed
            return [.close]
        case .head:
            phase = .closed
            return [.respondWithError(.requestTimeout)]
        case .body:
            phase = .responding
            ignoreInput = true
            return [.bodyFailed(.timedOut)]
        case .responding, .closed:
            return []
        }
    }

    /// The server is shutting down: idle connections (and those still sending a head, whose request
    /// has not started) close now, busy ones after their response.
    package mutating func shutdownRequested() -> [Action] {
        shuttingDown = true
        switch phase {
        case .idle, .head:
            phase = .closed
            return [.cancelTimeout, .close]
        default:
            return []
        }
    }

    private mutating func arm(_ timeout: Duration) -> Action {
        let instant = clock.now.advanced(by: timeout)
        deadline = instant
        return .scheduleTimeout(instant)
    }

    private mutating func parse(into actions: inout [Action]) {
        while true {
            switch phase {
            case .idle, .head:
                let wasIdle = phase != .head
                let part: HTTPRequestDecoder.Part?
                do {
                    part = try decoder.next()
                } catch {
                    phase = .closed
                    actions.append(.respondWithError(.parseError(error)))
                    return
                }
                guard let part else {
                    if wasIdle && (decoder.bufferedByteCount > 0 || !decoder.isIdle) {
                        phase = .head
                        actions.append(arm(timeouts.header))
                    }
                    return
                }
                guard case .head(let head) = part else {
                    preconditionFailure("Internal inconsistency: body before head")
                }
                startRequest(head, into: &actions)
                if phase == .closed { return }
            case .body(let received, let limit):
                let part: HTTPRequestDecoder.Part?
                do {
                    part = try decoder.next()
                } catch {
                    phase = .responding
                    ignoreInput = true
                    actions.append(.bodyFailed(.malformed(error.message)))
                    return
                }
                switch part {
                case nil:
                    if received > 0 { actions.append(arm(timeouts.body)) }
                    return
                case .body(let bytes):
                    let total = received + bytes.count
                    if total > limit {
                        phase = .responding
                        ignoreInput = true
                        actions.append(.bodyFailed(.tooLarge(limit: limit)))
                        return
                    }
                    phase = .body(received: total, limit: limit)
                    actions.append(.bodyPart(bytes))
                case .end:
                    phase = .responding
                    deadline = nil
                    actions.append(.bodyEnd)
                case .head:
                    preconditionFailure("Internal inconsistency: head inside a body")
                }
            case .responding:
                if !pausedForPipeline && decoder.bufferedByteCount > maxBufferedBytes {
                    pausedForPipeline = true
                    actions.append(.pauseReading)
                }
                return
            case .closed:
                return
            }
        }
    }

    private mutating func startRequest(_ head: HTTPRequestHead, into actions: inout [Action]) {
        deadline = nil
        let limit = bodyLimit(head)
        if case .length(let length) = head.framing, length > limit {
            phase = .closed
            actions.append(.respondWithError(.payloadTooLarge(limit: limit)))
            return
        }
        keepAlive = head.keepAlive
        phase = .body(received: 0, limit: limit)
        // The interim 100 goes out before the handler starts: a handler that answers at once
        // would otherwise put its final response ahead of it.
        if head.expectsContinue && head.version == .http1_1 && head.framing != .none {
            actions.append(.sendContinue)
        }
        actions.append(.dispatch(head))
        guard head.framing != .none else { return }
        actions.append(arm(timeouts.body))
    }
}
