import Reactor

/// A raw TCP upstream for the client's failure cases: for each request head it reads, it asks
/// `script` what to do (answer, answer and close, hang, answer part and reset, close). Counts
/// the connections it accepted. Loop-bound.
final class ScriptedUpstream: @unchecked Sendable {
    enum Action {
        case respond(String)
        case respondAndClose(String)
        case hang
        case partThenReset(String)
        case close
    }

    /// One accepted connection and the request bytes it has read.
    final class Peer: TCPConnectionDelegate {
        let index: Int
        weak var upstream: ScriptedUpstream?
        var buffer: [UInt8] = []
        var requests = 0

        init(index: Int, upstream: ScriptedUpstream) {
            self.index = index
            self.upstream = upstream
        }

        func connection(_ connection: TCPConnection, didRead bytes: [UInt8]) {
            buffer += bytes
            while let end = headEnd() {
                buffer.removeSubrange(0..<end)
                requests += 1
                guard let action = upstream?.script(index, requests) else { return }
                switch action {
                case .respond(let text): connection.write(Array(text.utf8))
                case .respondAndClose(let text):
                    connection.write(Array(text.utf8))
                    connection.closeGracefully()
                case .hang: break
                case .partThenReset(let text):
                    connection.write(Array(text.utf8))
                    connection.flushNow()
                    connection.reset()
                case .close: connection.close()
                }
            }
        }

        private func headEnd() -> Int? {
            guard buffer.count >= 4 else { return nil }
            return (3..<buffer.count).first {
                buffer[$0 - 3] == 13 && buffer[$0 - 2] == 10 && buffer[$0 - 1] == 13 && buffer[$0] == 10
            }.map { $0 + 1 }
        }

        func connectionDidReadEOF(_ connection: TCPConnection) { connection.close() }
        func connectionDidBecomeWritable(_ connection: TCPConnection) {}
        func connection(_ connection: TCPConnection, didCloseWith error: UVError?) {}
    }

    let script: (_ connection: Int, _ request: Int) -> Action
    private(set) var accepted = 0
    private var listener: TCPListener?
    private var peers: [TCPConnection] = []

    init(script: @escaping (_ connection: Int, _ request: Int) -> Action) {
        self.script = script
    }

    /// Starts listening on 127.0.0.1; returns the port.
    func start(loop: EventLoop) throws -> Int {
        let listener = try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { [unowned self] connection in
            accepted += 1
            let peer = Peer(index: accepted, upstream: self)
            connection.delegate = peer
            connection.startReading()
            peers.append(connection)
        }
        self.listener = listener
        return listener.localPort
    }

    func stop() {
        listener?.stopAccepting()
        for peer in peers { peer.close() }
    }

    static func ok(_ body: String, extra: String = "") -> String {
        "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)"
    }
}
