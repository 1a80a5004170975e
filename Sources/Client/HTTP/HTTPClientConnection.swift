import Codecs
import Reactor

/// One pooled keep-alive connection to the upstream, carrying one exchange at a time: writes the
/// request (streaming its body with backpressure), decodes the response, feeds the body into the
/// response's inbox, and tells its pool when it is free again or gone. While idle it keeps
/// reading, so an upstream that closes an idle connection is noticed at once. Loop-bound.
final class HTTPClientConnection: TCPConnectionDelegate {
    /// Where the connection is.
    private enum State {
        case idle
        case awaitingHead
        case streamingBody
        case closed
    }

    /// The exchange in progress.
    private final class Exchange {
        let id: Int
        let method: HTTPMethod
        var headWaiter: CheckedContinuation<HTTPResponseHead, any Error>?
        var arrivedHead: Result<HTTPResponseHead, ExchangeFailure>?
        var body: MessageInbox<BodyEvent>?
        var receivedResponseBytes = false
        var requestComplete = false
        var keepAlive = false
        /// When the whole response must be in, for a request whose body has no stall allowance.
        let bodyDeadline: ContinuousClock.Instant?

        init(id: Int, method: HTTPMethod, bodyDeadline: ContinuousClock.Instant?) {
            self.id = id
            self.method = method
            self.bodyDeadline = bodyDeadline
        }
    }

    let tcp: TCPConnection
    private let configuration: HTTPClient.Configuration
    private weak var pool: HTTPClient?
    private var state = State.idle
    private var decoder = HTTPResponseDecoder()
    private var exchange: Exchange?
    private var exchangeCount = 0
    private let timer: LoopTimer
    private var lastReadAt = ContinuousClock.now

    init(tcp: TCPConnection, configuration: HTTPClient.Configuration, pool: HTTPClient) {
        self.tcp = tcp
        self.configuration = configuration
        self.pool = pool
        timer = LoopTimer(loop: tcp.loop)
        tcp.delegate = self
        tcp.startReading()
    }

    /// True when the current exchange is not the connection's first (only a reused connection can
    /// have been closed by the upstream while idle, which is what a retry is for).
    var hasBeenUsedBefore: Bool { exchangeCount > 1 }
    var isClosed: Bool { state == .closed }

    // MARK: Exchange

    /// Sends `request` and returns the response once its head has arrived, or throws
    /// `ExchangeFailure` (before `deadline` passes).
    func send(_ request: HTTPClientRequest, deadline: ContinuousClock.Instant) async throws -> HTTPClientResponse {
        precondition(state == .idle && exchange == nil, "one exchange at a time")
        exchangeCount += 1
        let exchange = Exchange(
            id: exchangeCount, method: request.method, bodyDeadline: request.bodyWithinTimeout ? deadline : nil)
        self.exchange = exchange
        state = .awaitingHead
        decoder.expectResponse(to: request.method)
        arm(at: deadline) { connection in
            connection.fail(.timedOut("no response from the upstream in time"))
        }
        try await writeRequest(request, exchange: exchange)
        let head = try await awaitHead(of: exchange)
        guard let inbox = exchange.body else { throw ExchangeFailure(error: .shutDown, beforeResponse: false) }
        let connection = LoopBound(self, loop: tcp.loop)
        let body = HTTPClientResponseBody(inbox: inbox) { [id = exchange.id] in
            connection.execute { $0.abandon(exchangeID: id) }
        }
        return HTTPClientResponse(head: head, body: body)
    }

    private func writeRequest(_ request: HTTPClientRequest, exchange: Exchange) async throws {
        var headers = request.headers
        if headers[first: "Host"] == nil { headers.add(name: "Host", value: configuration.hostHeader) }
        let framing: HTTPBodyFraming
        switch request.body {
        case .none: framing = .none
        case .bytes(let bytes): framing = .length(bytes.count)
        case .stream(let length, _): framing = length.map { .length($0) } ?? .chunked
        }
        var bytes: [UInt8] = []
        HTTPEncoder.encode(
            HTTPRequestHead(method: request.method, target: request.target, headers: headers, framing: framing),
            into: &bytes)
        switch request.body {
        case .none:
            tcp.write(bytes)
        case .bytes(let body):
            bytes.append(contentsOf: body)
            tcp.write(bytes)
        case .stream(let length, let next):
            tcp.write(bytes)
            try await streamBody(length: length, next: next, exchange: exchange)
        }
        if self.exchange === exchange { exchange.requestComplete = true }
    }

    private func streamBody(
        length: Int?, next: () async throws -> [UInt8]?, exchange: Exchange
    ) async throws {
        var sent = 0
        while self.exchange === exchange, state != .closed {
            let chunk: [UInt8]?
            do {
                chunk = try await next()
            } catch {
                close()
                throw error
            }
            guard let chunk else { break }
            sent += chunk.count
            if let length, sent > length {
                fail(.invalidRequest("the request body is longer than its length \(length)"))
                break
            }
            if length == nil {
                var framed: [UInt8] = []
                HTTPEncoder.encodeChunk(chunk, into: &framed)
                tcp.write(framed)
            } else {
                tcp.write(chunk)
            }
            do {
                try await tcp.waitUntilWritable()
            } catch {
                break
            }
        }
        guard self.exchange === exchange, state != .closed else { return }
        if let length, sent != length {
            fail(.invalidRequest("the request body ended after \(sent) of \(length) bytes"))
        } else if length == nil {
            var last: [UInt8] = []
            HTTPEncoder.encodeLastChunk(into: &last)
            tcp.write(last)
        }
    }

    private func awaitHead(of exchange: Exchange) async throws -> HTTPResponseHead {
        if let arrived = exchange.arrivedHead { return try arrived.get() }
        return try await withCheckedThrowingContinuation { exchange.headWaiter = $0 }
    }

    private func deliverHead(_ result: Result<HTTPResponseHead, ExchangeFailure>, to exchange: Exchange) {
        if let waiter = exchange.headWaiter {
            exchange.headWaiter = nil
            waiter.resume(with: result.mapError { $0 })
        } else if exchange.arrivedHead == nil {
            exchange.arrivedHead = result
        }
    }

    /// The application dropped the response body: if it is still arriving, the connection
    /// cannot be reused.
    private func abandon(exchangeID: Int) {
        guard exchange?.id == exchangeID, state == .streamingBody else { return }
        exchange = nil
        close()
    }

    // MARK: Reading

    func connection(_ connection: TCPConnection, didRead bytes: [UInt8]) {
        lastReadAt = .now
        guard let exchange else {
            // Nothing may arrive on an idle connection.
            close()
            return
        }
        exchange.receivedResponseBytes = true
        decoder.append(bytes)
        decode(exchange)
    }

    private func decode(_ exchange: Exchange) {
        do {
            while self.exchange === exchange, let part = try decoder.next() {
                switch part {
                case .head(let head):
                    guard head.status >= 200 else { continue }
                    startBody(head, exchange: exchange)
                case .body(let bytes):
                    exchange.body?.yield(.bytes(bytes))
                case .end:
                    // An informational (1xx) response ends without a body; the real one follows.
                    guard exchange.body != nil else { continue }
                    finishExchange(exchange)
                }
            }
        } catch {
            fail(.invalidResponse("\(error)"))
        }
    }

    private func startBody(_ head: HTTPResponseHead, exchange: Exchange) {
        let options = head.headers.tokens("Connection")
        let persistent = head.version == .http1_1 ? !options.contains("close") : options.contains("keep-alive")
        exchange.keepAlive = persistent && head.framing != .untilClose
        let limit = configuration.maxUnreadBodyBytes
        let id = exchange.id
        // Pausing and resuming act only while this exchange is the connection's current one: the
        // body of a finished exchange, drained late, must not resume reading for the next one.
        let connection = LoopBound(self, loop: tcp.loop)
        exchange.body = MessageInbox(
            highWaterMark: limit, lowWaterMark: limit / 4, size: \.size,
            pause: { connection.execute { if $0.exchange?.id == id { $0.tcp.pauseReading() } } },
            resume: { connection.execute { if $0.exchange?.id == id { $0.tcp.startReading() } } })
        state = .streamingBody
        if let bodyDeadline = exchange.bodyDeadline {
            arm(at: bodyDeadline) { $0.fail(.timedOut("the response did not complete in time")) }
        } else {
            arm(after: configuration.requestTimeout) { $0.checkBodyProgress() }
        }
        deliverHead(.success(head), to: exchange)
    }

    /// Fails a body that stopped arriving while the application was waiting for it.
    private func checkBodyProgress() {
        guard state == .streamingBody, let exchange else { return }
        let waiting = exchange.body?.waitingBytes ?? 0
        if waiting == 0 && ContinuousClock.now - lastReadAt >= configuration.requestTimeout {
            fail(.timedOut("the response body stalled"))
        } else {
            arm(after: configuration.requestTimeout) { $0.checkBodyProgress() }
        }
    }

    private func finishExchange(_ exchange: Exchange) {
        exchange.body?.finish()
        self.exchange = nil
        guard exchange.keepAlive, exchange.requestComplete, state != .closed, decoder.bufferedByteCount == 0 else {
            close()
            return
        }
        state = .idle
        decoder = HTTPResponseDecoder()
        // A body inbox that was full paused reading; an idle connection must read to see a close.
        tcp.startReading()
        arm(after: configuration.idleTimeout) { $0.close() }
        pool?.release(self)
    }

    func connectionDidReadEOF(_ connection: TCPConnection) {
        decoder.peerDidClose()
        if let exchange { decode(exchange) }
        fail(.connectionClosed("the upstream closed the connection"))
    }

    func connectionDidBecomeWritable(_ connection: TCPConnection) {}

    func connection(_ connection: TCPConnection, didCloseWith error: UVError?) {
        fail(.connectionClosed(error.map { "\($0.name)" } ?? "closed"))
        state = .closed
        timer.close()
        pool?.connectionClosed(self)
    }

    // MARK: Failing and closing

    /// Brings the end of the exchange in progress forward to `deadline` (its caller left): the
    /// answer is still taken if it comes by then, else the exchange fails and the connection
    /// closes.
    func limitDeadline(to deadline: ContinuousClock.Instant) {
        guard exchange != nil else { return }
        arm(at: deadline) { $0.fail(.timedOut("the answer did not come within the grace after its caller left")) }
    }

    /// Ends the exchange in progress with `error` (its head waiter or its body), then closes.
    func fail(_ error: HTTPClientError) {
        if let exchange {
            self.exchange = nil
            deliverHead(
                .failure(ExchangeFailure(error: error, beforeResponse: !exchange.receivedResponseBytes)), to: exchange)
            exchange.body?.yield(.failed(error))
            exchange.body?.finish()
        }
        close()
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        timer.stop()
        tcp.close()
    }

    private func arm(after delay: Duration, _ action: @escaping (HTTPClientConnection) -> Void) {
        guard state != .closed else { return }
        timer.startAfterPendingIO(after: delay) { [unowned self] in action(self) }
    }

    private func arm(at deadline: ContinuousClock.Instant, _ action: @escaping (HTTPClientConnection) -> Void) {
        arm(after: deadline - .now, action)
    }
}
