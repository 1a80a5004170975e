import Codecs
import MoleculeSessions
import Testing

/// Delivery to gateway sockets by client id and the slow-consumer policy, over sockets that
/// record what they get and report whatever queue size a test sets.
struct SessionsTests {
    final class RecordingSocket: @unchecked Sendable {
        var received: [[UInt8]] = []
        var queuedBytes = 0
        var closedWith: UInt16?

        /// What the route would hand in for this socket.
        var outlet: SessionOutlet {
            SessionOutlet(
                enqueue: { [self] message in
                    guard closedWith == nil else { return false }
                    received.append(message.bytes)
                    return true
                },
                queuedBytes: { [self] in queuedBytes },
                close: { [self] code, _ in closedWith = code })
        }
    }

    static func text(_ text: String) -> PreparedMessage { PreparedMessage(text: text) }
    /// The frame a text message goes out as.
    static func frame(_ text: String) -> [UInt8] { PreparedMessage(text: text).bytes }

    @Test func messagesReachEverySocketOfTheirClientIDAndNoOther() {
        let sessions = Sessions()
        let (a1, a2, b) = (RecordingSocket(), RecordingSocket(), RecordingSocket())
        _ = sessions.add(a1.outlet, clientID: "a", publicBase: "")
        _ = sessions.add(a2.outlet, clientID: "a", publicBase: "")
        let bSession = sessions.add(b.outlet, clientID: "b", publicBase: "")
        sessions.send(Self.text("for a"), toClient: "a")
        sessions.broadcast(Self.text("for all"))
        #expect(a1.received == [Self.frame("for a"), Self.frame("for all")])
        #expect(a2.received == a1.received)
        #expect(b.received == [Self.frame("for all")])
        sessions.remove(bSession)
        #expect(sessions.count == 2 && !sessions.hasSessions("b"))
        sessions.send(Self.text("gone"), toClient: "b")
        #expect(b.received.count == 1)
    }

    @Test func aSocketThatStaysOverItsBoundIsClosedWith1008AndCounted() {
        var policy = Sessions.Policy()
        policy.maxQueuedBytes = 100
        policy.grace = .zero
        let sessions = Sessions(policy: policy)
        let (slow, fast) = (RecordingSocket(), RecordingSocket())
        _ = sessions.add(slow.outlet, clientID: "a", publicBase: "")
        _ = sessions.add(fast.outlet, clientID: "a", publicBase: "")
        slow.queuedBytes = 150
        sessions.send(Self.text("1"), toClient: "a")
        #expect(slow.closedWith == nil)
        sessions.send(Self.text("2"), toClient: "a")
        #expect(slow.closedWith == 1008)
        #expect(sessions.slowSocketsClosed == 1)
        sessions.send(Self.text("3"), toClient: "a")
        #expect(fast.received.count == 3 && slow.received.count == 2)
        #expect(sessions.messagesDropped == 1)
    }

    @Test func aSocketBackUnderItsBoundStartsItsGraceAgain() {
        var policy = Sessions.Policy()
        policy.maxQueuedBytes = 100
        policy.grace = .seconds(60)
        let sessions = Sessions(policy: policy)
        let socket = RecordingSocket()
        _ = sessions.add(socket.outlet, clientID: "a", publicBase: "")
        socket.queuedBytes = 150
        sessions.send(Self.text("1"), toClient: "a")
        socket.queuedBytes = 50
        sessions.send(Self.text("2"), toClient: "a")
        socket.queuedBytes = 150
        sessions.send(Self.text("3"), toClient: "a")
        #expect(socket.closedWith == nil)
    }

    @Test func aSocketPastTheCapIsClosedAtOnce() {
        var policy = Sessions.Policy()
        policy.maxQueuedBytes = 100
        policy.grace = .seconds(60)
        policy.capFactor = 4
        let sessions = Sessions(policy: policy)
        let socket = RecordingSocket()
        _ = sessions.add(socket.outlet, clientID: "a", publicBase: "")
        socket.queuedBytes = 301
        sessions.send(Self.text("1"), toClient: "a")
        #expect(socket.closedWith == nil, "over the bound, under the cap: the grace applies")
        socket.queuedBytes = 404  // the 3-byte frame just queued, on top of 401 unsent
        sessions.send(Self.text("2"), toClient: "a")
        #expect(socket.closedWith == 1008)
    }

    @Test func aSocketThatKeepsReadingIsKeptUntilItsMaximumTimeOver() {
        var policy = Sessions.Policy()
        policy.maxQueuedBytes = 100
        policy.grace = .seconds(60)
        let sessions = Sessions(policy: policy)
        let socket = RecordingSocket()
        _ = sessions.add(socket.outlet, clientID: "a", publicBase: "")
        for backlog in [900, 800, 700] {
            socket.queuedBytes = backlog + 1
            sessions.send(Self.text("x"), toClient: "a")
        }
        #expect(socket.closedWith == nil, "shrinking: it reads")
        var strict = policy
        strict.maxOverTime = .zero
        let strictSessions = Sessions(policy: strict)
        let slow = RecordingSocket()
        _ = strictSessions.add(slow.outlet, clientID: "a", publicBase: "")
        for backlog in [900, 800] {
            slow.queuedBytes = backlog + 1
            strictSessions.send(Self.text("x"), toClient: "a")
        }
        #expect(slow.closedWith == 1008, "over the bound for longer than maxOverTime")
    }

    @Test func oneLargeMessageIsJudgedByTimeNotAtOnce() {
        var policy = Sessions.Policy()
        policy.maxQueuedBytes = 100
        let sessions = Sessions(policy: policy)
        let socket = RecordingSocket()
        _ = sessions.add(socket.outlet, clientID: "a", publicBase: "")
        let large = String(repeating: "x", count: 1000)
        socket.queuedBytes = 1000
        sessions.send(Self.text(large), toClient: "a")
        // The next message finds 10 times the bound unsent, but only just now.
        socket.queuedBytes = 1001
        sessions.send(Self.text("s"), toClient: "a")
        #expect(socket.closedWith == nil)
    }

    @Test func aSocketThatCaughtUpStartsAfreshOnItsNextLargeMessage() {
        var policy = Sessions.Policy()
        policy.maxQueuedBytes = 100
        policy.grace = .zero
        let sessions = Sessions(policy: policy)
        let socket = RecordingSocket()
        _ = sessions.add(socket.outlet, clientID: "a", publicBase: "")
        socket.queuedBytes = 150
        sessions.send(Self.text("1"), toClient: "a")
        // It read everything, then a large message comes: that alone does not close it.
        let large = String(repeating: "x", count: 500)
        socket.queuedBytes = 500
        sessions.send(Self.text(large), toClient: "a")
        #expect(socket.closedWith == nil)
    }
}
