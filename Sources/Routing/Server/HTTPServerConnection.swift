import Codecs
import Logging
import Reactor

/// Drives one client connection: performs the actions of its `HTTPServerConnectionStateMachine`
/// against the socket, runs each request's handler as a task on the loop, and writes responses.
///
/// A handler that never suspends finishes inside `Task.immediate`, that is, inside the read
/// callback that dispatched it, and its completion feeds the machine again. Actions therefore go
/// through one queue, performed in order by whichever call got there first, so a pipelined
/// request can never overtake the end of the one before it. Loop-bound.
final class HTTPServerConnection: TCPConnectionDelegate {
    private unowned let server: HTTPServer
    private let tcp: TCPConnection
    private var machine: HTTPServerConnectionStateMachine<ContinuousClock>
    private let matchCache: MatchCache
    private var timer: LoopTimer?
    /// When the armed timer fires; the timer is only re-armed for an earlier deadline, since a
    /// timer that fires early is simply rescheduled by the machine. This keeps a keep-alive
    /// request from touching the timer heap at all.
    private var timerDeadline: ContinuousClock.Instant?
    private var body: RequestBody?
    /// The task running the current request's handler, while it runs (released when it ends: a
    /// finished task kept by an idle keep-alive connection cost 9 KB a connection).
    private var handler: Task<Void, Never>?
    /// Numbers the requests, so a handler that ended inside `Task.immediate` is not kept.
    private var requestNumber = 0
    private var finishedRequestNumber = 0
    private var queue: [HTTPServerConnectionStateMachine<ContinuousClock>.Action] = []
    private var isPerforming = false
    private var pausedForBody = false
    private var pausedForPipeline = false
    private var closed = false
    /// Set once this side decided to close (gracefully or not): no further request is served.
    private var closing = false
    /// The WebSocket this connection was upgraded to, if any.
    private var webSocket: WebSocket?
    /// The peer's address, looked up once per connection.
    private lazy var remoteAddress = tcp.remoteAddress

    init(server: HTTPServer, tcp: TCPConnection) {
        self.server = server
        self.tcp = tcp
        let cache = MatchCache()
        matchCache = cache
        let router = server.router
        let defaultLimit = server.configuration.maxBodyBytes
        machine = HTTPServerConnectionStateMachine(
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
        if let webSocket {
            webSocket.close(code: 1001, reason: "server shutting down")
            return
        }
        perform(machine.shutdownRequested())
    }

    func forceClose() {
        tcp.close()
    }

    // MARK: TCPConnectionDelegate

    func connection(_ connection: TCPConnection, didRead bytes: [UInt8]) {
        perform(machine.bytesReceived(bytes))
    }

    func connectionDidReadEOF(_ connection: TCPConnection) {
        perform(machine.peerClosed())
    }

    func connectionDidBecomeWritable(_ connection: TCPConnection) {}

    func connection(_ connection: TCPConnection, didCloseWith error: UVError?) {
        closed = true
        closing = true
        _ = machine.connectionClosed()
        timer?.close()
        timer = nil
        body?.fail(RequestBodyError.incomplete)
        body = nil
        handler?.cancel()
        server.connectionDidClose(self)
    }

    // MARK: Actions

    private func perform(_ actions: [HTTPServerConnectionStateMachine<ContinuousClock>.Action]) {
        queue.append(contentsOf: actions)
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

    private func execute(_ action: HTTPServerConnectionStateMachine<ContinuousClock>.Action) {
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
            closing = true
            var bytes: [UInt8] = []
            Self.encode(
                Self.errorResponse(error), keepAlive: false, headOnly: false, version: .http1_1,
                date: server.currentDate(), into: &bytes)
            tcp.write(bytes)
            tcp.closeGracefully()
        case .close:
            closing = true
            tcp.closeGracefully()
        case .scheduleTimeout(let deadline):
            scheduleTimer(at: deadline)
        case .cancelTimeout:
            break
        case .pauseReading:
            pausedForPipeline = true
            updateReading()
        case .resumeReading:
            pausedForPipeline = false
            updateReading()
        case .cancelHandler:
            handler?.cancel()
        }
    }

    private func updateReading() {
        if pausedForBody || pausedForPipeline { tcp.pauseReading() } else { tcp.startReading() }
    }

    private func scheduleTimer(at deadline: ContinuousClock.Instant) {
        guard !closed else { return }
        if let timerDeadline, timerDeadline <= deadline { return }
        let timer = self.timer ?? LoopTimer(loop: server.loop)
        self.timer = timer
        timerDeadline = deadline
        timer.startAfterPendingIO(after: ContinuousClock.now.duration(to: deadline)) { [unowned self] in
            timerDeadline = nil
            perform(machine.timeoutFired())
        }
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
            requestBody = .complete()
        } else {
            let expected: Int? = if case .length(let length) = head.framing { length } else { nil }
            requestBody = RequestBody(expectedLength: expected)
            requestBody.onBackpressure = { [weak self] paused in
                guard let self else { return }
                pausedForBody = paused
                updateReading()
                perform(paused ? machine.bodyReadingPaused() : machine.bodyReadingResumed())
            }
        }
        body = requestBody
        let context = RequestContext(
            requestID: RequestIDGenerator.make(), logger: server.logger, parameters: match.parameters,
            remoteAddress: remoteAddress, routePattern: match.pattern, isWebSocketRoute: match.webSocket != nil)
        let request = Request(head: head, body: requestBody)
        requestNumber += 1
        let number = requestNumber
        let work = LoopBound((connection: self, request: request), loop: server.loop)
        let task = Task.immediate(executorPreference: server.loop) {
            let (connection, request) = work.value
            await connection.serve(request, responder: match.responder, context: context, number: number)
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
        finishRequest(request.body)
        // The next pipelined request is served only once this response has drained below the
        // high-water mark: a client that pipelines and never reads cannot make the server queue
        // unbounded responses (the wait is bounded by the write-stall timeout).
        if !closing {
            do {
                try await tcp.waitUntilWritable()
            } catch {
                closing = true
            }
        }
        perform(closing ? machine.connectionClosed() : machine.responseCompleted())
    }

    /// Answers a WebSocket upgrade: 101 and a `WebSocket` taking over the socket (with any bytes
    /// that followed the request), or the handshake's error status, then close.
    private func upgrade(_ head: HTTPRequestHead, route: WebSocketRoute, match: Router.Match) {
        var context = RequestContext(
            requestID: RequestIDGenerator.make(), logger: server.logger, parameters: match.parameters,
            remoteAddress: remoteAddress, routePattern: match.pattern, isWebSocketRoute: true)
        let request = Request(head: head)
        let connection = LoopBound(self, loop: server.loop)
        Task.immediate(executorPreference: server.loop) {
            let verdict: Response
            do {
                verdict = try await route.admission(request, context)
            } catch {
                verdict = HTTPError.internalError.makeResponse(requestID: context.requestID)
            }
            let this = connection.value
            guard !this.closed else { return }
            guard verdict.status == 101 else {
                this.refuseUpgrade(verdict, version: head.version)
                return
            }
            if let requestID = verdict.headers[first: "X-Request-Id"] { context.requestID = requestID }
            this.accept(request, route: route, context: context, verdict: verdict)
        }
    }

    /// Answers an upgrade request the middleware or the handshake refused (401, 400, 426) and
    /// closes.
    private func refuseUpgrade(_ response: Response, version: HTTPVersion) {
        closing = true
        var bytes: [UInt8] = []
        Self.encode(
            response, keepAlive: false, headOnly: false, version: version, date: server.currentDate(), into: &bytes)
        tcp.write(bytes)
        _ = machine.connectionClosed()
        tcp.closeGracefully()
    }

    /// Switches an admitted upgrade request to the WebSocket protocol: 101 with the admission's
    /// headers, and a `WebSocket` taking over the socket (with any bytes that followed the request).
    private func accept(_ request: Request, route: WebSocketRoute, context: RequestContext, verdict: Response) {
        var headers = verdict.headers
        headers.remove(name: "Content-Length")
        var bytes: [UInt8] = []
        HTTPEncoder.encode(
            HTTPResponseHead(status: 101, headers: headers, framing: .none), date: server.currentDate(), into: &bytes)
        tcp.write(bytes)
        let leftover = machine.upgraded()
        timer?.close()
        timer = nil
        let socket = WebSocket(
            tcp: tcp, configuration: route.configuration, subprotocol: headers[first: "Sec-WebSocket-Protocol"],
            leftover: leftover, traffic: server.traffic
        ) { [weak self] in
            guard let self else { return }
            closed = true
            closing = true
            server.connectionDidClose(self)
        }
        webSocket = socket
        let upgraded = LoopBound((socket: socket, request: request), loop: server.loop)
        Task.immediate(executorPreference: server.loop) {
            let (socket, request) = upgraded.value
            do {
                try await route.handler(socket, request, context)
                socket.close(code: 1000)
            } catch {
                context.logger.debug("WebSocket handler ended with \(error)")
                socket.close(code: 1011)
            }
        }
    }

    /// The request's body is no longer read: stop routing bytes to it and let reading resume.
    private func finishRequest(_ requestBody: RequestBody) {
        guard body === requestBody else { return }
        body = nil
        if pausedForBody {
            pausedForBody = false
            updateReading()
        }
    }

    private func send(_ response: Response, for head: HTTPRequestHead, keepAlive: Bool) async {
        guard !closed else { return }
        let headOnly = head.method == .head || !Self.bodyAllowed(status: response.status)
        switch response.body {
        case .bytes:
            var bytes: [UInt8] = []
            Self.encode(
                response, keepAlive: keepAlive, headOnly: headOnly, version: head.version, date: server.currentDate(),
                into: &bytes)
            tcp.write(bytes)
        case .stream(let length, let producer):
            let framing: HTTPBodyFraming =
                if !Self.bodyAllowed(status: response.status) {
                    .none
                } else if let length {
                    .length(length)
                } else if head.version == .http1_1 {
                    .chunked
                } else {
                    .untilClose
                }
            var headBytes: [UInt8] = []
            var responseHead = HTTPResponseHead(status: response.status, headers: response.headers, framing: framing)
            Self.setConnectionHeader(
                &responseHead, keepAlive: keepAlive && framing != .untilClose, version: head.version)
            HTTPEncoder.encode(responseHead, date: server.currentDate(), into: &headBytes)
            tcp.write(headBytes)
            guard !headOnly else { return }
            let writer = ConnectionBodyWriter(
                tcp: tcp, chunked: framing == .chunked, length: length, traffic: server.traffic)
            do {
                try await producer(writer)
                if let length, writer.written != length {
                    throw StreamedBodyError.lengthMismatch(announced: length, written: writer.written)
                }
                if framing == .chunked {
                    var last: [UInt8] = []
                    HTTPEncoder.encodeLastChunk(into: &last)
                    tcp.write(last)
                }
                if framing == .untilClose {
                    closing = true
                    tcp.closeGracefully()
                }
            } catch {
                // The head is already out: the only honest signal left is to cut the connection.
                server.logger.warning("streamed response failed: \(error)")
                closing = true
                tcp.flushNow()
                tcp.close()
            }
        }
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
        let allowed = bodyAllowed(status: response.status)
        var head = HTTPResponseHead(
            status: response.status, headers: response.headers, framing: allowed ? .length(body.count) : .none)
        setConnectionHeader(&head, keepAlive: keepAlive, version: version)
        bytes.reserveCapacity(256 + body.count)
        HTTPEncoder.encode(head, date: date, into: &bytes)
        if !headOnly && allowed { bytes.append(contentsOf: body) }
    }

    /// 1xx, 204 and 304 responses never have a body (RFC 9110 sections 6.4.1, 15.3.5, 15.4.5).
    static func bodyAllowed(status: Int) -> Bool {
        status >= 200 && status != 204 && status != 304
    }

    private static func setConnectionHeader(_ head: inout HTTPResponseHead, keepAlive: Bool, version: HTTPVersion) {
        if !keepAlive {
            head.headers.replaceOrAdd(name: "Connection", value: "close")
        } else if version == .http1_0 {
            head.headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
    }
}

/// The router match computed while deciding the body limit, kept for the dispatch that follows.
private final class MatchCache {
    var match: Router.Match?
}

/// Why a streamed body was cut off.
enum StreamedBodyError: Error {
    /// The producer wrote more or fewer bytes than the `Content-Length` it announced.
    case lengthMismatch(announced: Int, written: Int)
}

/// Writes a streamed body to the socket, chunk-framed when needed, waiting while it is backed
/// up, and refusing to write past an announced length. Loop-bound.
private final class ConnectionBodyWriter: ResponseBodyWriter {
    let tcp: TCPConnection
    let chunked: Bool
    let length: Int?
    let traffic: ServerTraffic
    private(set) var written = 0

    init(tcp: TCPConnection, chunked: Bool, length: Int?, traffic: ServerTraffic) {
        self.traffic = traffic
        self.tcp = tcp
        self.chunked = chunked
        self.length = length
    }

    func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        if let length, written + bytes.count > length {
            throw StreamedBodyError.lengthMismatch(announced: length, written: written + bytes.count)
        }
        written += bytes.count
        traffic.streamedBodyBytes += bytes.count
        if chunked {
            var framed: [UInt8] = []
            framed.reserveCapacity(bytes.count + 16)
            HTTPEncoder.encodeChunk(bytes, into: &framed)
            guard tcp.write(framed) else { throw UVError.cancelled("write") }
        } else {
            guard tcp.write(bytes) else { throw UVError.cancelled("write") }
        }
        try await tcp.waitUntilWritable()
    }
}
