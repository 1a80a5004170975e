import CLibUV

/// A listening TCP socket (IPv4 or IPv6) that hands each accepted connection to `onAccept`.
///
/// Accepted connections have Nagle disabled and are not reading yet: the owner sets a delegate
/// and calls `startReading()`. Loop-bound.
package final class TCPListener: HandleOwner, @unchecked Sendable {
    private var onAccept: ((TCPConnection) -> Void)?
    /// While true, new connections are left in the kernel's accept queue (libuv stops watching
    /// the socket until one is accepted); once the queue is full the kernel drops new SYNs, so a
    /// client's connect hangs: the state of a server that is overloaded or frozen.
    package var holdsConnections = false

    /// Binds `host:port` (port 0 picks a free one) and starts listening with `backlog`.
    package init(
        loop: EventLoop, host: String, port: Int, backlog: Int32 = 511,
        onAccept: @escaping (TCPConnection) -> Void
    ) throws(UVError) {
        self.onAccept = onAccept
        super.init(loop: loop, byteCount: MemoryLayout<uv_tcp_t>.size)
        loop.assertInLoop()
        let address = try SocketAddress.parse(host: host, port: port)
        try uvCheck(uv_tcp_init(loop.loop, tcp), "uv_tcp_init")
        adopt()
        do throws(UVError) {
            let bound = withUnsafePointer(to: address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(tcp, $0, 0) }
            }
            try uvCheck(bound, "uv_tcp_bind")
            let listening = uv_listen(clibuv_tcp_as_stream(tcp), backlog) { server, status in
                HandleOwner.owner(of: server, as: TCPListener.self).acceptOne(status: status)
            }
            try uvCheck(listening, "uv_listen")
        } catch {
            close()
            throw error
        }
    }

    private var tcp: UnsafeMutablePointer<uv_tcp_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self)
    }

    /// The port actually bound (useful with port 0).
    package var localPort: Int {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(tcp, $0, &length) }
        }
        return SocketAddress.port(storage)
    }

    private func acceptOne(status: Int32) {
        guard status >= 0, !isClosing, !holdsConnections else { return }
        guard let connection = try? TCPConnection(loop: loop) else { return }
        let accepted = uv_accept(clibuv_tcp_as_stream(tcp), clibuv_tcp_as_stream(connection.tcp))
        guard accepted == 0 else {
            connection.close()
            return
        }
        connection.setNoDelay()
        onAccept?(connection)
    }

    /// Stops accepting: the listening socket closes; accepted connections are not touched.
    package func stopAccepting() {
        close()
    }

    override func didClose() {
        onAccept = nil
    }
}
