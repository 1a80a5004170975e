import CLibUV
import Glibc

/// A listening TCP socket (IPv4 or IPv6) that hands each accepted connection to `onAccept`.
///
/// Accepted connections have Nagle disabled and are not reading yet: the owner sets a delegate
/// and calls `startReading()`. Loop-bound.
package final class TCPListener: HandleOwner {
    private var onAccept: ((TCPConnection) -> Void)?
    /// While true, new connections are left in the kernel's accept queue (libuv stops watching
    /// the socket until one is accepted); once the queue is full the kernel drops new SYNs, so a
    /// client's connect hangs: the state of a server that is overloaded or frozen.
    package var holdsConnections = false
    /// Called when accepting failed (`EMFILE` when the process is out of file descriptors: libuv
    /// then accepts and closes the pending connections, so clients see a reset).
    package var onAcceptError: ((UVError) -> Void)?

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
            try listen(backlog: backlog)
        } catch {
            close()
            throw error
        }
    }

    /// Listens on a TCP socket the process inherited already bound (systemd socket activation
    /// passes it as file descriptor 3 and up). Fails unless `descriptor` is an IPv4 or IPv6
    /// stream socket. The backlog is the kernel's maximum, so the owner's (`Backlog=` of a
    /// socket unit) is not shrunk by listening again.
    package init(
        loop: EventLoop, adopting descriptor: Int32, backlog: Int32 = SOMAXCONN,
        onAccept: @escaping (TCPConnection) -> Void
    ) throws(UVError) {
        self.onAccept = onAccept
        super.init(loop: loop, byteCount: MemoryLayout<uv_tcp_t>.size)
        loop.assertInLoop()
        try uvCheck(uv_tcp_init(loop.loop, tcp), "uv_tcp_init")
        adopt()
        do throws(UVError) {
            func option(_ name: Int32) -> Int32? {
                var value: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                return getsockopt(descriptor, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
            }
            guard option(SO_TYPE) == Int32(SOCK_STREAM.rawValue), let domain = option(SO_DOMAIN),
                domain == AF_INET || domain == AF_INET6
            else { throw UVError(code: -ENOTSOCK, operation: "inherited socket \(descriptor) (not a TCP socket)") }
            try uvCheck(uv_tcp_open(tcp, uv_os_sock_t(descriptor)), "uv_tcp_open")
            try listen(backlog: backlog)
        } catch {
            close()
            throw error
        }
    }

    private func listen(backlog: Int32) throws(UVError) {
        let listening = uv_listen(clibuv_tcp_as_stream(tcp), backlog) { server, status in
            HandleOwner.owner(of: server, as: TCPListener.self).acceptOne(status: status)
        }
        try uvCheck(listening, "uv_listen")
    }

    private var tcp: UnsafeMutablePointer<uv_tcp_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self)
    }

    /// The address actually bound, as `host:port` (`[host]:port` for IPv6).
    package var localAddress: String {
        SocketAddress.describe(localStorage)
    }

    /// The port actually bound (useful with port 0).
    package var localPort: Int {
        SocketAddress.port(localStorage)
    }

    private var localStorage: sockaddr_storage {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(tcp, $0, &length) }
        }
        return storage
    }

    private func acceptOne(status: Int32) {
        guard status >= 0 else {
            onAcceptError?(UVError(code: status, operation: "accept"))
            return
        }
        guard !isClosing, !holdsConnections else { return }
        guard let connection = try? TCPConnection(loop: loop) else { return }
        let accepted = uv_accept(clibuv_tcp_as_stream(tcp), clibuv_tcp_as_stream(connection.tcp))
        guard accepted == 0 else {
            connection.close()
            onAcceptError?(UVError(code: accepted, operation: "accept"))
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
        onAcceptError = nil
    }
}
