import Codecs
import Logging
import Reactor

/// The WebSocket upgrade of a server connection: the route's admission decides, then either the
/// refusal goes out and the machine closes the connection, or `101` goes out and a `WebSocket`
/// takes the socket over (with any bytes that followed the request) as the machine hands HTTP off.
extension HTTPServerConnection {
    /// Answers a WebSocket upgrade request once its admission (middleware and handshake checks)
    /// has decided.
    func upgrade(_ head: HTTPRequestHead, route: WebSocketRoute, match: Router.Match) {
        var context = makeContext(match)
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
            guard !this.isClosed else { return }
            guard verdict.status == 101 else {
                this.refuseUpgrade(verdict, version: head.version)
                return
            }
            if let requestID = verdict.headers[first: "X-Request-Id"] { context.requestID = requestID }
            this.accept(request, route: route, context: context, verdict: verdict)
        }
    }

    /// Answers an upgrade request the middleware or the handshake refused (401, 400, 426); the
    /// machine then closes the connection.
    private func refuseUpgrade(_ response: Response, version: HTTPVersion) {
        var bytes: [UInt8] = []
        Self.encode(
            response, keepAlive: false, headOnly: false, version: version, date: server.currentDate(), into: &bytes)
        tcp.write(bytes)
        perform(machine.upgradeRefused())
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
            self?.socketClosed()
        }
        lifecycle = .upgraded(socket)
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
}
