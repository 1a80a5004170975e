import Codecs
import Routing
import Testing

/// The connection state machine, driven event by event with a manual clock: every timeout,
/// keep-alive, pipelining, limits and shutdown, with no socket.
struct HTTPServerConnectionStateMachineTests {
    typealias Machine = HTTPServerConnectionStateMachine<ManualClock>
    typealias Action = Machine.Action

    let clock = ManualClock()

    func machine(bodyLimit: Int = 100, maxBufferedBytes: Int = 128 * 1024) -> Machine {
        Machine(clock: clock, maxBufferedBytes: maxBufferedBytes) { _ in bodyLimit }
    }

    func at(_ seconds: Int) -> ManualClock.Instant { ManualClock.Instant(offset: .seconds(seconds)) }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let get = bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")

    static func dispatched(_ actions: [Action]) -> [String] {
        actions.compactMap { if case .dispatch(let head) = $0 { head.target } else { nil } }
    }

    @Test func freshConnectionMustSendItsHeadWithinTheHeaderTimeout() {
        var machine = machine()
        #expect(machine.connectionOpened() == [.scheduleTimeout(at(10))])
        clock.advance(by: .seconds(9))
        #expect(machine.timeoutFired() == [.scheduleTimeout(at(10))])
        clock.advance(by: .seconds(1))
        #expect(machine.timeoutFired() == [.close])
    }

    @Test func slowHeadGets408() {
        var machine = machine()
        _ = machine.connectionOpened()
        clock.advance(by: .seconds(5))
        #expect(machine.bytesReceived(Self.bytes("GET / HTTP/1.1\r\nHo")) == [.scheduleTimeout(at(15))])
        #expect(machine.bytesReceived(Self.bytes("st: x\r\n")) == [])
        clock.advance(by: .seconds(10))
        #expect(machine.timeoutFired() == [.respondWithError(.requestTimeout)])
        #expect(machine.bytesReceived(Self.bytes("\r\n")) == [])
    }

    @Test func headWithCompleteLinesButNoEndIsStillAPartialHead() {
        var machine = machine()
        _ = machine.connectionOpened()
        clock.advance(by: .seconds(2))
        #expect(machine.bytesReceived(Self.bytes("GET / HTTP/1.1\r\nHost: x\r\n")) == [.scheduleTimeout(at(12))])
        clock.advance(by: .seconds(10))
        #expect(machine.timeoutFired() == [.respondWithError(.requestTimeout)])
    }

    @Test func keepAliveIdleTimeout() {
        var machine = machine()
        _ = machine.connectionOpened()
        #expect(Self.dispatched(machine.bytesReceived(Self.get)) == ["/"])
        clock.advance(by: .seconds(1))
        #expect(machine.responseCompleted() == [.scheduleTimeout(at(61))])
        #expect(machine.isIdle)
        clock.advance(by: .seconds(60))
        #expect(machine.timeoutFired() == [.close])
    }

    @Test func keepAliveConnectionServesTheNextRequest() {
        var machine = machine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived(Self.get)
        _ = machine.responseCompleted()
        clock.advance(by: .seconds(30))
        #expect(Self.dispatched(machine.bytesReceived(Self.bytes("GET /two HTTP/1.1\r\nHost: x\r\n\r\n"))) == ["/two"])
    }

    @Test func pipelinedRequestsAreDispatchedOneAtATimeInOrder() {
        var machine = machine()
        _ = machine.connectionOpened()
        let three = Self.bytes(
            "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(Self.dispatched(machine.bytesReceived(three)) == ["/1"])
        #expect(Self.dispatched(machine.responseCompleted()) == ["/2"])
        #expect(Self.dispatched(machine.responseCompleted()) == ["/3"])
        #expect(machine.responseCompleted() == [.scheduleTimeout(at(60))])
    }

    @Test func connectionCloseClosesAfterTheResponse() {
        var machine = machine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived(Self.bytes("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        #expect(machine.responseCompleted() == [.cancelTimeout, .close])
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() {
        var plain = machine()
        _ = plain.connectionOpened()
        _ = plain.bytesReceived(Self.bytes("GET / HTTP/1.0\r\n\r\n"))
        #expect(plain.responseCompleted() == [.cancelTimeout, .close])
        var keepAlive = machine()
        _ = keepAlive.connectionOpened()
        _ = keepAlive.bytesReceived(Self.bytes("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
        #expect(keepAlive.responseCompleted() == [.scheduleTimeout(at(60))])
    }

    @Test func expectContinueIsAnsweredWhenTheBodyFits() {
        var machine = machine()
        _ = machine.connectionOpened()
        let actions = machine.bytesReceived(
            Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"))
        #expect(actions.count == 3)
        #expect(actions[0] == .sendContinue, "the interim response must precede the handler's")
        #expect(Self.dispatched(Array(actions[1...1])) == ["/"])
        #expect(actions[2] == .scheduleTimeout(at(30)))
    }

    @Test func tooLargeContentLengthIs413WithoutContinue() {
        var machine = machine(bodyLimit: 4)
        _ = machine.connectionOpened()
        let actions = machine.bytesReceived(
            Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"))
        #expect(actions == [.respondWithError(.payloadTooLarge(limit: 4))])
    }

    @Test func bodyStreamsInPartsAndEnds() {
        var machine = machine()
        _ = machine.connectionOpened()
        var actions = machine.bytesReceived(Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc"))
        #expect(actions.contains(.bodyPart(Self.bytes("abc"))))
        actions = machine.bytesReceived(Self.bytes("def"))
        #expect(actions == [.bodyPart(Self.bytes("def")), .bodyEnd])
    }

    @Test func stalledBodyTimesOut() {
        var machine = machine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived(Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"))
        clock.advance(by: .seconds(20))
        #expect(machine.bytesReceived(Self.bytes("d")) == [.bodyPart(Self.bytes("d")), .scheduleTimeout(at(50))])
        clock.advance(by: .seconds(30))
        #expect(machine.timeoutFired() == [.bodyFailed(.timedOut)])
        #expect(machine.bytesReceived(Self.bytes("efghij")) == [])
        #expect(machine.responseCompleted() == [.cancelTimeout, .close])
    }

    @Test func chunkedBodyOverTheLimitFails() {
        var machine = machine(bodyLimit: 4)
        _ = machine.connectionOpened()
        let actions = machine.bytesReceived(
            Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
        #expect(actions.last == .bodyFailed(.tooLarge(limit: 4)))
        #expect(machine.responseCompleted() == [.cancelTimeout, .close])
    }

    @Test func malformedChunkFailsTheBody() {
        var machine = machine()
        _ = machine.connectionOpened()
        let actions = machine.bytesReceived(
            Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
        guard case .bodyFailed(.malformed)? = actions.last else {
            Issue.record("expected a malformed body, got \(actions)")
            return
        }
    }

    @Test func malformedRequestIsAnsweredAndInputIgnored() {
        var machine = machine()
        _ = machine.connectionOpened()
        let actions = machine.bytesReceived(Self.bytes("GET / HTTP/1.1\r\nHost : x\r\n\r\n"))
        guard case .respondWithError(let error)? = actions.first else {
            Issue.record("expected an error response, got \(actions)")
            return
        }
        #expect(error.status == 400 && error.code == .invalidRequest)
        #expect(machine.bytesReceived(Self.get) == [])
    }

    @Test(arguments: [
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n", 414),
    ])
    func decoderErrorsBecomeResponses(raw: String, status: Int) {
        var machine = machine()
        _ = machine.connectionOpened()
        guard case .respondWithError(let error)? = machine.bytesReceived(Self.bytes(raw)).first else {
            Issue.record("no error response")
            return
        }
        #expect(error.status == status)
    }

    @Test func responseBeforeTheBodyEndsClosesTheConnection() {
        var machine = machine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived(Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"))
        #expect(machine.responseCompleted() == [.cancelTimeout, .close])
    }

    @Test func peerCloseWhileIdleCloses() {
        var machine = machine()
        _ = machine.connectionOpened()
        #expect(machine.peerClosed() == [.cancelTimeout, .close])
    }

    @Test func peerCloseAfterPipelinedRequestsStillAnswersThem() {
        var machine = machine()
        _ = machine.connectionOpened()
        let two = Self.bytes("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(Self.dispatched(machine.bytesReceived(two)) == ["/1"])
        #expect(machine.peerClosed() == [.cancelHandler])
        #expect(Self.dispatched(machine.responseCompleted()) == ["/2"])
        #expect(machine.responseCompleted() == [.cancelTimeout, .close])
    }

    @Test func peerCloseDuringTheBodyFailsIt() {
        var machine = machine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived(Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"))
        #expect(machine.peerClosed() == [.cancelTimeout, .bodyFailed(.incomplete), .cancelHandler])
    }

    @Test func shutdownClosesIdleConnectionsAtOnceAndBusyOnesAfterTheirResponse() {
        var idle = machine()
        _ = idle.connectionOpened()
        #expect(idle.shutdownRequested() == [.cancelTimeout, .close])
        var busy = machine()
        _ = busy.connectionOpened()
        _ = busy.bytesReceived(Self.get)
        #expect(busy.shutdownRequested() == [])
        #expect(busy.responseCompleted() == [.cancelTimeout, .close])
        var partial = machine()
        _ = partial.connectionOpened()
        _ = partial.bytesReceived(Self.bytes("GET / HT"))
        #expect(partial.shutdownRequested() == [.cancelTimeout, .close])
    }

    @Test func responseSaysCloseWhenTheConnectionWillClose() {
        var machine = machine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived(Self.get)
        #expect(!machine.closesAfterResponse)
        _ = machine.shutdownRequested()
        #expect(machine.closesAfterResponse)
        var unread = self.machine()
        _ = unread.connectionOpened()
        _ = unread.bytesReceived(Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"))
        #expect(unread.closesAfterResponse, "a response before the body ended closes the connection")
        var failed = self.machine(bodyLimit: 1)
        _ = failed.connectionOpened()
        _ = failed.bytesReceived(
            Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
        #expect(failed.closesAfterResponse)
    }

    @Test func bodyTimeoutIsSuspendedWhileTheServerPausesReading() {
        var machine = machine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived(Self.bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"))
        #expect(machine.bodyReadingPaused() == [])
        clock.advance(by: .seconds(120))
        #expect(machine.timeoutFired() == [])
        #expect(machine.bodyReadingResumed() == [.scheduleTimeout(at(150))])
        clock.advance(by: .seconds(30))
        #expect(machine.timeoutFired() == [.bodyFailed(.timedOut)])
    }

    @Test func nothingIsDispatchedAfterTheConnectionClosed() {
        var machine = machine()
        _ = machine.connectionOpened()
        _ = machine.bytesReceived(Self.get + Self.get)
        #expect(machine.connectionClosed() == [])
        #expect(machine.responseCompleted() == [])
        #expect(machine.bytesReceived(Self.get) == [])
    }

    @Test func pipelinedBytesBeyondTheBufferPauseReadingUntilTheResponse() {
        var machine = machine(maxBufferedBytes: 40)
        _ = machine.connectionOpened()
        _ = machine.bytesReceived(Self.get)
        #expect(machine.bytesReceived(Self.get + Self.get) == [.pauseReading])
        let actions = machine.responseCompleted()
        #expect(actions.first == .resumeReading)
        #expect(Self.dispatched(actions) == ["/"])
    }

    @Test func aRefusedUpgradeClosesAndAnAcceptedOneHandsOverTheBytesBehindIt() {
        let upgrade = Self.bytes("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        var refused = machine()
        _ = refused.connectionOpened()
        #expect(Self.dispatched(refused.bytesReceived(upgrade + Self.get)) == ["/ws"])
        #expect(refused.upgradeRefused() == [.cancelTimeout, .close])
        #expect(refused.responseCompleted() == [], "nothing behind a refused upgrade is served")
        var accepted = machine()
        _ = accepted.connectionOpened()
        _ = accepted.bytesReceived(upgrade + [0x81, 0x00])
        #expect(accepted.upgraded() == [0x81, 0x00])
        #expect(accepted.bytesReceived(Self.get) == [])
    }
}
