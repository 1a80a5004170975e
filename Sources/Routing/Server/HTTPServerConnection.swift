import Codecs
import Logging
import Reactor

/// Drives one client connection: performs the actions of its `HTTPServerConnectionStateMachine`
/// against the socket, runs each request's handler as a task on the loop, and writes responses.
/// The WebSocket upgrade is in `HTTPServerConnection+Upgrade.swift`, streamed bodies go through
/// `ConnectionBodyWriter`.
///
/// A handler that never suspends finishes inside `Task.immediate`, that is, inside the read
/// callback that dispatched it, and its completion feeds the machine again. Actions therefore go
/// through one queue, performed in order by whichever call got there first, so a pipelined
/// request can never overtake the end of the one before it. Loop-bound.
final class HTTPServerConnection: TCPConnectionDelegate {
    /// Where the connection is in its life, as far as the driver is concerned (the machine
    /// tracks the HTTP exchange itself).
    enum Lifecycle {
        /// Requests are read and answered.
        case serving
        /// This side decided to close (gracefully or not): no further request is served.
        case closing
        /// The connection was upgraded: the WebSocket owns the socket now.
        case upgraded(WebSocket)
        /// The socket is closed.
        case closed
    }

    /// Why reading is held back: the handler has not consumed its body yet, or pipelined
    /// requests wait behind the current response.
    struct ReadHolds: OptionSet {
        let rawValue: UInt8
        static let body = ReadHolds(rawValue: 1)
        static let pipeline = ReadHolds(rawValue: 2)
    }

    typealias Machine = HTTPServerConnectionStateMachine<ContinuousClock>

    unowned let server: HTTPServer
    let tcp: TCPConnection
    var machine: Machine
    var lifecycle = Lifecycle.serving
    private let matchCache: MatchCache
    var timer: LoopTimer?
    /// When the armed timer fires; the timer is only re-armed for an earlier deadline, since a
    /// timer that fires early is simply rescheduled by the machine. This keeps a keep-alive
    /// request from touching the timer heap at all.
    private var timerDeadline: ContinuousClock.Instant?
    private var body: RequestBody?
    private var readHolds: ReadHolds = []
    /// The task running the current request's handler, while it runs (released when it ends: a
    /// finished task kept by an idle keep-alive connection cost 9 KB a connection).
    private var handler: Task<Void, Never>?
    /// Numbers the requests, so a handler that ended inside `Task.immediate` is not kept.
    private var requestNumber = 0
    private var finishedRequestNumber = 0
    private var queue: [Machine.Action] = []
    private var isPerforming = false
    /// The body of every request of this connection that has none: a finished, empty body never
    /// changes, so one serves them all.
    private lazy var emptyBody = RequestBody.complete()
    /// The peer's address, looked up once per connection.
    private(set) lazy var remoteAddress = tcp.remoteAddress

    init(server: HTTPServer, tcp: TCPConnection) {
        self.server = server
        self.tcp = tcp
        let cache = MatchCache()
        matchCache = cache
        let router = server.router
        let defaultLimit = server.configuration.maxBodyBytes
        machine = Machine(
            clock: ContinuousClock(), timeouts: server.configuration.timeouts, limits: server.configuration.limits
        ) { head in
            let match = router.match(method: head.method, path: head.path)
            cache.match = match
            return match.maxBodyBytes ?? defaultLimit
        }
    }

    func start() {
        tcp.delegate = self
        tcp.startReading()
        perform(machine.connectionOpened())
    }

    func shutdownRequested() {
        if case .upgraded(let webSocket) = lifecycle {
            webSocket.close(code: 1001, reason: "server shutting down")
            return
        }
        perform(machine.shutdownRequested())
    }

    func forceClose() {
        tcp.close()
    }

    /// True until this side decided to close.
    var isServing: Bool {
        if case .serving = lifecycle { return true }
        return false
    }

    /// True once the socket is closed (or handed to a WebSocket that closed it).
    var isClosed: Bool {
        if case .closed = lifecycle { return true }
        return false
    }

    // MARK: TCPConnectionDelegate

    func connection(_ connection: TCPConnection, didRead bytes: [UInt8]) {
        perform { machine, actions in machine.bytesReceived(bytes, into: &actions) }
    }

    func connectionDidReadEOF(_ connection: TCPConnection) {
        perform(machine.peerClosed())
    }

    func connectionDidBecomeWritable(_ connection: TCPConnection) {}

    func connection(_ connection: TCPConnection, didCloseWith error: UVError?) {
        _ = machine.connectionClosed()
        body?.fail(RequestBodyError.incomplete)
        body = nil
        handler?.cancel()
        socketClosed()
    }

    /// The socket is gone (closed here, or by the WebSocket it was handed to).
    func socketClosed() {
        lifecycle = .closed
        timer?.close()
        timer = nil
        server.connectionDidClose(self)
    }

    // MARK: Actions

    func perform(_ actions: [Machine.Action]) {
        queue.append(contentsOf: actions)
        drainQueue()
    }

    /// Feeds the machine an event whose actions go straight into the queue, then performs them.
    func perform(_ event: (inout Machine, inout [Machine.Action]) -> Void) {
        event(&machine, &queue)
        drainQueue()
    }

    private func drainQueue() {
        guard !isPerforming else { return }
        isPerforming = true
        var index = 0
        while index < queue.count {
            let action = queue[index]
            index += 1
            execute(action)
        }
        queue.removeAll(keepingCapacity: true)
        isPerforming = false
    }

    private func execute(_ action: Machine.Action) {
        switch action {
        case .dispatch(let head):
            dispatch(head)
        case .bodyPart(let bytes):
            body?.push(bytes)
        case .bodyEnd:
            body?.finish()
        case .bodyFailed(let error):
            body?.fail(error)
        case .sendContinue:
            tcp.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        case .respondWithError(let error):
            writeFinal(Self.errorResponse(error), version: .http1_1)
        case .close:
            lifecycle = .closing
            tcp.closeGracefully()
        case .scheduleTimeout(let deadline):
            scheduleTimer(at: deadline)
        case .cancelTimeout:
            break
        case .pauseReading:
            hold(.pipeline, true)
        case .resumeReading:
            hold(.pipeline, false)
        case .cancelHandler:
            handler?.cancel()
        }
    }

    /// Writes a last response the machine or the upgrade decided on, then closes gracefully.
    func writeFinal(_ response: Response, version: HTTPVersion) {
        lifecycle = .closing
        var bytes: [UInt8] = []
        Self.encode(
            response, keepAlive: false, headOnly: false, version: version, date: server.currentDate(), into: &bytes)
        tcp.write(bytes)
        tcp.closeGracefully()
    }

    private func hold(_ reason: ReadHolds, _ on: Bool) {
        if on { readHolds.insert(reason) } else { readHolds.remove(reason) }
        if readHolds.isEmpty { tcp.startReading() } else { tcp.pauseReading() }
    }

    private func scheduleTimer(at deadline: ContinuousClock.Instant) {
        guard !isClosed else { return }
        if let timerDeadline, timerDeadline <= deadline { return }
        let timer = self.timer ?? LoopTimer(loop: server.loop)
        self.timer = timer
        timerDeadline = deadline
        timer.startAfterPendingIO(after: ContinuousClock.now.duration(to: deadline)) { [unowned self] in
            timerDeadline = nil
            perform(machine.timeoutFired())
        }
    }

    func makeContext(_ match: Router.Match) -> RequestContext {
        RequestContext(
            requestID: RequestIDGenerator.make(), logger: server.logger, parameters: match.parameters,
            remoteAddress: remoteAddress, routePattern: match.pattern, isWebSocketRoute: match.webSocket != nil)
    }

    private func dispatch(_ head: HTTPRequestHead) {
        let match = matchCache.match ?? server.router.match(method: head.method, path: head.path)
        matchCache.match = nil
        if let route = match.webSocket, WebSocketHandshake.isUpgradeRequest(head) {
            upgrade(head, route: route, match: match)
            return
        }
        let requestBody: RequestBody
        if head.framing == .none {
            requestBody = emptyBody
        } else {
            let expected: Int? = if case .length(let length) = head.framing { length } else { nil }
            requestBody = RequestBody(expectedLength: expected)
            requestBody.onBackpressure = { [weak self] paused in
                guard let self else { return }
                hold(.body, paused)
                perform(paused ? machine.bodyReadingPaused() : machine.bodyReadingResumed())
            }
        }
        body = requestBody
        let context = makeContext(match)
        let request = Request(head: head, body: requestBody)
        requestNumber += 1
        let number = requestNumber
        if let immediate = match.immediate, head.framing == .none {
            answerNow(request, immediate(request, context), context: context, number: number)
            return
        }
        run(request, responder: match.responder, context: context, number: number)
    }

    /// Serves request `number` in a task on the loop, kept for cancelling while it runs.
    private func run(_ request: Request, responder: @escaping Responder, context: RequestContext, number: Int) {
        let work = LoopBound((connection: self, request: request), loop: server.loop)
        let task = Task.immediate(executorPreference: server.loop) {
            let (connection, request) = work.value
            await connection.serve(request, responder: responder, context: context, number: number)
        }
        // A handler that never suspended has ended already: nothing to keep for cancelling.
        if finishedRequestNumber != number { handler = task }
    }

    /// Runs the handler of request `number`, sends its response, and moves the machine on.
    private func serve(_ request: Request, responder: Responder, context: RequestContext, number: Int) async {
        defer {
            finishedRequestNumber = number
            if requestNumber == number { handler = nil }
        }
        let response: Response
        do {
            response = try await responder(request, context)
        } catch {
            response = HTTPError.internalError.makeResponse(requestID: context.requestID)
        }
        await send(response, for: request.head, keepAlive: !machine.closesAfterResponse)
        await responseSent(for: request)
    }

    /// Sends the response an immediate route gave to request `number` without a task, unless
    /// it streams or the socket is backed up (then a task sends it as any other response).
    private func answerNow(_ request: Request, _ response: Response, context: RequestContext, number: Int) {
        guard case .bytes = response.body, tcp.pendingWriteBytes <= tcp.highWaterMark else {
            run(request, responder: { _, _ in response }, context: context, number: number)
            return
        }
        finishedRequestNumber = number
        sendBytes(response, for: request.head, keepAlive: !machine.closesAfterResponse)
        finishRequest(request.body)
        // Under the high-water mark: `responseSent` would not wait.
        completeResponse()
    }

    /// After a response: the body is no longer read, and the next pipelined request is served
    /// only once this response has drained below the high-water mark (a client that pipelines
    /// and never reads cannot make the server queue unbounded responses; the wait is bounded by
    /// the write-stall timeout).
    private func responseSent(for request: Request) async {
        finishRequest(request.body)
        if isServing {
            do {
                try await tcp.waitUntilWritable()
            } catch {
                lifecycle = .closing
            }
        }
        completeResponse()
    }

    /// Moves the machine on once a response is out.
    private func completeResponse() {
        if isServing {
            perform { machine, actions in machine.responseCompleted(into: &actions) }
        } else {
            perform(machine.connectionClosed())
        }
    }

    /// The request's body is no longer read: stop routing bytes to it and let reading resume.
    private func finishRequest(_ requestBody: RequestBody) {
        guard body === requestBody else { return }
        body = nil
        if readHolds.contains(.body) { hold(.body, false) }
    }

    private func send(_ response: Response, for head: HTTPRequestHead, keepAlive: Bool) async {
        guard !isClosed else { return }
        let headOnly = head.method == .head || !HTTPResponseFraming.bodyAllowed(status: response.status)
        switch response.body {
        case .bytes:
            sendBytes(response, for: head, keepAlive: keepAlive)
        case .stream(let length, let producer):
            let framing = HTTPResponseFraming.framing(status: response.status, length: length, version: head.version)
            var responseHead = HTTPResponseHead(status: response.status, headers: response.headers, framing: framing)
            HTTPResponseFraming.setConnection(keepAlive: keepAlive, version: head.version, on: &responseHead)
            var headBytes: [UInt8] = []
            HTTPEncoder.encode(responseHead, date: server.currentDate(), into: &headBytes)
            tcp.write(headBytes)
            guard !headOnly else { return }
            let writer = ConnectionBodyWriter(
                tcp: tcp, chunked: framing == .chunked, length: length, traffic: server.traffic)
            do {
                try await producer(writer)
                try writer.finish()
                if framing == .untilClose {
                    lifecycle = .closing
                    tcp.closeGracefully()
                }
            } catch {
                // The head is already out: the only honest signal left is to cut the connection.
                server.logger.warning("streamed response failed: \(error)")
                lifecycle = .closing
                tcp.flushNow()
                tcp.close()
            }
        }
    }

    /// Writes a response whose body is in hand.
    private func sendBytes(_ response: Response, for head: HTTPRequestHead, keepAlive: Bool) {
        guard !isClosed else { return }
        let headOnly = head.method == .head || !HTTPResponseFraming.bodyAllowed(status: response.status)
        var bytes: [UInt8] = []
        Self.encode(
            response, keepAlive: keepAlive, headOnly: headOnly, version: head.version, date: server.currentDate(),
            into: &bytes)
        tcp.write(bytes)
    }

    /// A response the server makes itself (no handler ran), with a fresh request id.
    static func errorResponse(_ error: HTTPError) -> Response {
        let requestID = RequestIDGenerator.make()
        var response = error.makeResponse(requestID: requestID)
        response.headers.replaceOrAdd(name: "X-Request-Id", value: requestID)
        return response
    }

    /// Encodes a complete bytes response (head, then body unless `headOnly`).
    static func encode(
        _ response: Response, keepAlive: Bool, headOnly: Bool, version: HTTPVersion, date: String,
        into bytes: inout [UInt8]
    ) {
        guard case .bytes(let body) = response.body else { return }
        HTTPResponseFraming.encode(
            status: response.status, headers: response.headers, body: body, keepAlive: keepAlive, headOnly: headOnly,
            version: version, date: date, into: &bytes)
    }
}

/// The router match computed while deciding the body limit, kept for the dispatch that follows.
private final class MatchCache {
    var match: Router.Match?
}
