import DequeModule
package import Reactor

/// An HTTP/1.1 client for one upstream (ComfyUI) on the reactor, with a bounded pool of
/// keep-alive connections.
///
/// `execute` takes an idle connection, opens a new one while under `maxConnections`, or waits
/// for one to come free. Connections idle longer than `idleTimeout` are closed. Connecting is
/// bounded by `connectTimeout`; everything up to the response head by `requestTimeout`, and a
/// body that stops arriving while the application waits for it fails after the same time. A
/// request that is idempotent and replayable is retried once, on a new connection, when a reused
/// connection turns out to have been closed by the upstream before any response byte came.
/// Loop-bound: call it from tasks running on `loop`.
/// `@unchecked Sendable`: `Sendable` routes hold it; `execute` traps off the loop, in every build.
package final class HTTPClient: @unchecked Sendable {
    /// Where the upstream is and how the pool behaves.
    package struct Configuration: Sendable {
        package var host: String
        package var port: Int
        package var maxConnections = 16
        package var idleTimeout: Duration = .seconds(30)
        package var connectTimeout: Duration = .seconds(10)
        package var requestTimeout: Duration = .seconds(300)
        /// The longest a request waits for a pooled connection to come free (within
        /// `requestTimeout`): requests that pile up behind a stuck upstream fail instead of
        /// queueing for the whole request timeout.
        package var poolWaitTimeout: Duration = .seconds(10)
        /// Unread response body bytes beyond which the connection stops reading.
        package var maxUnreadBodyBytes = 256 * 1024

        package init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        package var hostHeader: String {
            let literal = host.contains(":") ? "[\(host)]" : host
            return port == 80 ? literal : "\(literal):\(port)"
        }
    }

    /// What a waiting `execute` is handed: a free connection, or the right to open one.
    private enum Handoff {
        case connection(LoopBound<HTTPClientConnection>)
        case openSlot
    }

    package let loop: EventLoop
    package let configuration: Configuration
    private var idle: [HTTPClientConnection] = []
    private var all: [ObjectIdentifier: HTTPClientConnection] = [:]
    /// Connections open or being opened; never above `maxConnections`.
    private var openCount = 0
    private var waiters = Deque<
        (id: Int, since: ContinuousClock.Instant, continuation: CheckedContinuation<Handoff, any Error>)
    >()
    private var nextWaiterID = 0
    private var isShutDown = false

    package init(loop: EventLoop, configuration: Configuration) {
        self.loop = loop
        self.configuration = configuration
    }

    /// Connections currently open, busy or idle (for metrics and tests).
    package var openConnections: Int { openCount }
    /// Connections waiting in the pool.
    package var idleConnections: Int { idle.count }
    /// Requests waiting for a connection to come free.
    package var waitingRequests: Int { waiters.count }
    /// How long the request that has waited longest for a connection has waited; zero when none
    /// waits. A pool whose every connection is stuck shows here long before the request timeout.
    package var longestWait: Duration { waiters.first.map { .now - $0.since } ?? .zero }

    /// Sends `request` and returns the response once its head has arrived. When the calling task
    /// is cancelled (its client left), the wait for a connection ends and `cancelled` is thrown.
    /// A request already on its way is closed rather than returned to the pool, except one that
    /// is not safe to repeat (a POST): the upstream may act on it (ComfyUI queues a prompt), so
    /// its answer is still awaited, for `cancelledGrace` at most, and the caller gets it.
    package func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        loop.preconditionInLoop()
        guard !Task.isCancelled else { throw HTTPClientError.cancelled }
        let deadline = ContinuousClock.now + configuration.requestTimeout
        let attempt = Attempt(waitsForAnswer: !request.isSafeToRetry)
        let cancellable = LoopBound(attempt, loop: loop)
        return try await withTaskCancellationHandler {
            var retried = false
            while true {
                let connection = try await acquire(deadline: deadline, skipIdle: retried, attempt: attempt)
                guard !attempt.isCancelled else {
                    // Never used: closed, not pooled (an idle connection needs the idle timer
                    // that only a finished exchange arms).
                    connection.close()
                    throw HTTPClientError.cancelled
                }
                attempt.connection = connection
                defer { attempt.connection = nil }
                do {
                    return try await connection.send(request, deadline: deadline)
                } catch let failure as ExchangeFailure {
                    if attempt.isCancelled && !attempt.waitsForAnswer { throw HTTPClientError.cancelled }
                    let retry =
                        !retried && failure.beforeResponse && connection.hasBeenUsedBefore
                        && request.isSafeToRetry && failure.error.isClosedByPeer
                    guard retry else { throw failure.error }
                    retried = true
                }
            }
        } onCancel: {
            cancellable.execute { [self] in cancel($0) }
        }
    }

    /// One `execute` call: what a cancellation must stop. Touched on the loop only.
    private final class Attempt {
        /// A request the upstream may have acted on: its answer is awaited after a cancel.
        let waitsForAnswer: Bool
        var isCancelled = false
        var waiterID: Int?
        var connection: HTTPClientConnection?

        init(waitsForAnswer: Bool) {
            self.waitsForAnswer = waitsForAnswer
        }
    }

    /// How long the answer to a cancelled request that is not safe to repeat is still awaited.
    package static let cancelledGrace: Duration = .seconds(5)

    private func cancel(_ attempt: Attempt) {
        attempt.isCancelled = true
        if let id = attempt.waiterID, let index = waiters.firstIndex(where: { $0.id == id }) {
            waiters.remove(at: index).continuation.resume(throwing: HTTPClientError.cancelled)
        }
        guard let connection = attempt.connection else { return }
        if attempt.waitsForAnswer {
            connection.limitDeadline(to: .now + Self.cancelledGrace)
        } else {
            connection.fail(.cancelled)
        }
    }

    /// Closes every connection and fails every waiter; later calls throw `shutDown`.
    package func shutdown() {
        loop.assertInLoop()
        isShutDown = true
        let waiting = waiters
        waiters.removeAll()
        for waiter in waiting { waiter.continuation.resume(throwing: HTTPClientError.shutDown) }
        for connection in all.values { connection.fail(.shutDown) }
    }

    // MARK: The pool

    private func acquire(
        deadline: ContinuousClock.Instant, skipIdle: Bool, attempt: Attempt
    ) async throws -> HTTPClientConnection {
        while true {
            guard !isShutDown else { throw HTTPClientError.shutDown }
            if !skipIdle, let connection = takeIdle() { return connection }
            if openCount < configuration.maxConnections {
                openCount += 1
                return try await open(deadline: deadline)
            }
            let waitDeadline = min(deadline, .now + configuration.poolWaitTimeout)
            switch try await waitForConnection(deadline: waitDeadline, attempt: attempt) {
            case .connection(let handed):
                // It may have closed between its release and this task running: wait again.
                let connection = handed.value
                if !connection.isClosed { return connection }
            case .openSlot:
                return try await open(deadline: deadline)
            }
        }
    }

    private func takeIdle() -> HTTPClientConnection? {
        while let connection = idle.popLast() {
            if !connection.isClosed { return connection }
        }
        return nil
    }

    /// Opens a connection in a slot already counted in `openCount`.
    private func open(deadline: ContinuousClock.Instant) async throws -> HTTPClientConnection {
        let remaining = min(configuration.connectTimeout, deadline - .now)
        do {
            let tcp = try await TCPConnector.connect(
                loop: loop, host: configuration.host, port: configuration.port,
                timeoutMilliseconds: max(1, LoopTimer.milliseconds(remaining))
            ).value
            guard !isShutDown else {
                tcp.close()
                throw HTTPClientError.shutDown
            }
            let connection = HTTPClientConnection(tcp: tcp, configuration: configuration, pool: self)
            all[ObjectIdentifier(connection)] = connection
            return connection
        } catch {
            openCount -= 1
            handOffSlot()
            if let error = error as? HTTPClientError { throw error }
            if let error = error as? UVError, error.isTimeout {
                let milliseconds = LoopTimer.milliseconds(remaining)
                throw HTTPClientError.connectFailed(
                    "\(configuration.hostHeader): no connection within \(milliseconds) ms")
            }
            throw HTTPClientError.connectFailed("\(configuration.hostHeader): \(error)")
        }
    }

    private func waitForConnection(deadline: ContinuousClock.Instant, attempt: Attempt) async throws -> Handoff {
        guard !attempt.isCancelled else { throw HTTPClientError.cancelled }
        nextWaiterID += 1
        let id = nextWaiterID
        attempt.waiterID = id
        let timer = LoopTimer(loop: loop)
        defer {
            timer.close()
            attempt.waiterID = nil
        }
        let since = ContinuousClock.now
        return try await withCheckedThrowingContinuation { continuation in
            waiters.append((id, since, continuation))
            timer.start(after: deadline - .now) { [unowned self] in
                guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
                let waited = LoopTimer.milliseconds(.now - since)
                waiters.remove(at: index).continuation.resume(
                    throwing: HTTPClientError.timedOut(
                        "all \(configuration.maxConnections) connections to \(configuration.hostHeader) stayed busy for \(waited) ms"
                    ))
            }
        }
    }

    /// A connection finished an exchange and may be reused.
    func release(_ connection: HTTPClientConnection) {
        guard !isShutDown else {
            connection.close()
            return
        }
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: .connection(LoopBound(connection, loop: loop)))
        } else {
            idle.append(connection)
        }
    }

    /// A connection closed: its slot is free.
    func connectionClosed(_ connection: HTTPClientConnection) {
        guard all.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
        idle.removeAll { $0 === connection }
        openCount -= 1
        handOffSlot()
    }

    /// Gives a free slot to the first waiter, counted at once so no other caller takes it too.
    private func handOffSlot() {
        guard !waiters.isEmpty, openCount < configuration.maxConnections else { return }
        openCount += 1
        waiters.removeFirst().continuation.resume(returning: .openSlot)
    }
}

extension HTTPClientError {
    /// The upstream closed or reset the connection (what a stale keep-alive connection shows).
    var isClosedByPeer: Bool {
        if case .connectionClosed = self { return true }
        return false
    }
}
