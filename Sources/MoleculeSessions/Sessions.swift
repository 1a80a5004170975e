// MoleculeSessions (L3): the gateway's own WebSocket sessions, their send queues and the slow
// consumer policy, over the `SessionOutlet` the WebSocket route hands in. Never imports another
// molecule.

package import Codecs

/// How a session reaches its socket: the WebSocket route that owns the socket hands these in when
/// the socket opens (nothing below the route knows the server's socket type). Called on the loop.
package struct SessionOutlet {
    /// Queues a message behind what is already queued, without waiting; false when the socket
    /// is closing or closed.
    package var enqueue: (PreparedMessage) -> Bool
    /// Bytes queued on the socket and not yet taken by the kernel.
    package var queuedBytes: () -> Int
    /// Starts the closing handshake with a code and a reason.
    package var close: (UInt16, String) -> Void

    package init(
        enqueue: @escaping (PreparedMessage) -> Bool, queuedBytes: @escaping () -> Int,
        close: @escaping (UInt16, String) -> Void
    ) {
        self.enqueue = enqueue
        self.queuedBytes = queuedBytes
        self.close = close
    }
}

/// The gateway's WebSocket sessions by client id (several sockets may share one), and the
/// delivery of messages to them.
///
/// Each socket's queue is bounded, and slowness is judged by progress over time. The backlog is
/// what was still unsent when a new message came. A socket is closed with 1008 (and counted in
/// `slowSocketsClosed`) when its backlog stays over `Policy.maxQueuedBytes` without shrinking
/// for `Policy.grace`, when it stays over it for `Policy.maxOverTime` even while shrinking (a
/// reader far slower than the traffic), or at once past `Policy.capFactor` times it (the memory
/// bound). One large message (a 17 MB result) starts the clock but closes no socket that reads
/// it. Delivery never waits, so a slow socket never delays the others. Loop-bound.
/// `@unchecked Sendable`: a `Sendable` route holds it; only tasks on the loop touch it.
package final class Sessions: @unchecked Sendable {
    /// The slow consumer policy.
    package struct Policy: Sendable {
        /// Bytes a socket may have queued and unsent.
        package var maxQueuedBytes = 1024 * 1024
        /// How long a socket's backlog may stay over `maxQueuedBytes` without shrinking.
        package var grace: Duration = .seconds(2)
        /// How long it may stay over `maxQueuedBytes` at all, shrinking or not.
        package var maxOverTime: Duration = .seconds(30)
        /// A backlog past this multiple of `maxQueuedBytes` is closed at once.
        package var capFactor = 64

        package init() {}
    }

    /// One socket of a client id.
    package final class Session {
        /// The client id the socket connected with.
        package let clientID: String
        /// The base URL the socket's client reached the gateway at, for links in its messages.
        package let publicBase: String
        let outlet: SessionOutlet
        /// Since when the backlog is over the bound, when it last shrank, and how large it was.
        var overSince: ContinuousClock.Instant?
        var progressAt: ContinuousClock.Instant?
        var lastBacklog = 0
        /// Closed, or being closed, by the gateway.
        package fileprivate(set) var isClosing = false

        init(clientID: String, publicBase: String, outlet: SessionOutlet) {
            self.clientID = clientID
            self.publicBase = publicBase
            self.outlet = outlet
        }
    }

    package let policy: Policy
    private var byClient: [String: [Session]] = [:]
    /// Sockets open now.
    package private(set) var count = 0
    /// Sockets closed with 1008 because they read too slowly.
    package private(set) var slowSocketsClosed = 0
    /// Messages not delivered because their socket was closing.
    package private(set) var messagesDropped = 0

    package init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Registers the socket `outlet` reaches under `clientID`.
    package func add(_ outlet: SessionOutlet, clientID: String, publicBase: String) -> Session {
        let session = Session(clientID: clientID, publicBase: publicBase, outlet: outlet)
        byClient[clientID, default: []].append(session)
        count += 1
        return session
    }

    /// Forgets a socket that has closed.
    package func remove(_ session: Session) {
        guard var sessions = byClient[session.clientID],
            let index = sessions.firstIndex(where: { $0 === session })
        else { return }
        sessions.remove(at: index)
        byClient[session.clientID] = sessions.isEmpty ? nil : sessions
        count -= 1
    }

    /// The open sockets of `clientID`.
    package func sessions(of clientID: String) -> [Session] {
        byClient[clientID] ?? []
    }

    /// Whether any socket of `clientID` is open.
    package func hasSessions(_ clientID: String) -> Bool {
        byClient[clientID] != nil
    }

    /// Sends `message` to every socket of `clientID`.
    package func send(_ message: PreparedMessage, toClient clientID: String) {
        guard let sessions = byClient[clientID] else { return }
        for session in sessions { deliver(message, to: session) }
    }

    /// Sends `message` to every socket.
    package func broadcast(_ message: PreparedMessage) {
        for sessions in byClient.values {
            for session in sessions { deliver(message, to: session) }
        }
    }

    /// Sends `message` to one socket.
    package func send(_ message: PreparedMessage, to session: Session) {
        deliver(message, to: session)
    }

    private func deliver(_ message: PreparedMessage, to session: Session) {
        guard !session.isClosing, session.outlet.enqueue(message) else {
            messagesDropped += 1
            return
        }
        let queued = session.outlet.queuedBytes()
        let backlog = queued - message.bytes.count
        let now = ContinuousClock.now
        // The socket had caught up before this message: whatever it was over the bound before
        // is forgotten, and this message alone only starts the clock.
        guard backlog > policy.maxQueuedBytes else {
            session.overSince = queued > policy.maxQueuedBytes ? now : nil
            session.progressAt = session.overSince
            session.lastBacklog = backlog
            return
        }
        if backlog > policy.maxQueuedBytes * policy.capFactor {
            closeSlow(session)
            return
        }
        guard let since = session.overSince, let progressAt = session.progressAt else {
            session.overSince = now
            session.progressAt = now
            session.lastBacklog = backlog
            return
        }
        let shrank = backlog < session.lastBacklog
        session.lastBacklog = backlog
        if shrank {
            session.progressAt = now
        } else if now - progressAt >= policy.grace {
            closeSlow(session)
            return
        }
        if now - since >= policy.maxOverTime { closeSlow(session) }
    }

    private func closeSlow(_ session: Session) {
        session.isClosing = true
        slowSocketsClosed += 1
        session.outlet.close(1008, "send queue over its bound: the client reads too slowly")
    }
}
