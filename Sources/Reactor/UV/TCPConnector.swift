import CLibUV
import Glibc

/// Opens outgoing TCP connections: resolves the host with `uv_getaddrinfo`, then tries each
/// address in turn with `uv_tcp_connect`, all under one deadline.
package enum TCPConnector {
    /// Connects to `host:port` within `timeoutMilliseconds`; runs its libuv work on `loop`. The
    /// connection comes back bound to `loop`: only code on that loop may use it.
    package static func connect(
        loop: EventLoop, host: String, port: Int, timeoutMilliseconds: UInt64
    ) async throws -> LoopBound<TCPConnection> {
        try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<LoopBound<TCPConnection>, any Error>) in
            loop.execute {
                ConnectAttempt(loop: loop, host: host, port: port, timeout: timeoutMilliseconds) {
                    continuation.resume(with: $0.map { LoopBound($0, loop: loop) })
                }.start()
            }
        }
    }
}

/// One connect in progress: the resolver request, the current socket, the deadline timer.
/// It keeps itself alive through the pointers stored in its libuv requests.
private final class ConnectAttempt {
    let loop: EventLoop
    let host: String
    let port: Int
    let timeout: UInt64
    var completion: ((Result<TCPConnection, any Error>) -> Void)?
    var addresses: [sockaddr_storage] = []
    var current: TCPConnection?
    var timer: LoopTimer?
    var lastError = UVError(code: -1, operation: "connect")
    let resolveRequest = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
    let connectRequest = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)

    init(
        loop: EventLoop, host: String, port: Int, timeout: UInt64,
        completion: @escaping (Result<TCPConnection, any Error>) -> Void
    ) {
        self.loop = loop
        self.host = host
        self.port = port
        self.timeout = timeout
        self.completion = completion
    }

    deinit {
        resolveRequest.deallocate()
        connectRequest.deallocate()
    }

    func start() {
        let timer = LoopTimer(loop: loop)
        self.timer = timer
        timer.start(afterMilliseconds: timeout) { [self] in
            lastError = UVError.timedOut("connect to \(host):\(port)")
            finish(.failure(lastError))
        }
        if let literal = try? SocketAddress.parse(host: host, port: port) {
            addresses = [literal]
            tryNext()
            return
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        resolveRequest.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = uv_getaddrinfo(
            loop.loop, resolveRequest,
            { request, status, result in
                let attempt = Unmanaged<ConnectAttempt>.fromOpaque(request!.pointee.data!).takeRetainedValue()
                attempt.resolved(status: status, result: result)
                uv_freeaddrinfo(result)
            }, host, String(port), &hints)
        if status < 0 {
            Unmanaged<ConnectAttempt>.fromOpaque(resolveRequest.pointee.data!).release()
            finish(.failure(UVError(code: status, operation: "resolve \(host)")))
        }
    }

    private func resolved(status: Int32, result: UnsafeMutablePointer<addrinfo>?) {
        guard completion != nil else { return }
        guard status == 0 else {
            finish(.failure(UVError(code: status, operation: "resolve \(host)")))
            return
        }
        var entry = result
        while let info = entry {
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { target in
                target.copyMemory(
                    from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
            }
            addresses.append(storage)
            entry = info.pointee.ai_next
        }
        tryNext()
    }

    private func tryNext() {
        guard completion != nil else { return }
        guard !addresses.isEmpty else {
            finish(.failure(lastError))
            return
        }
        let address = addresses.removeFirst()
        let connection: TCPConnection
        do {
            connection = try TCPConnection(loop: loop)
        } catch {
            finish(.failure(error))
            return
        }
        current = connection
        connectRequest.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let status = withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                uv_tcp_connect(connectRequest, connection.tcp, $0) { request, status in
                    let attempt = Unmanaged<ConnectAttempt>.fromOpaque(request!.pointee.data!).takeRetainedValue()
                    attempt.connected(status: status)
                }
            }
        }
        if status < 0 {
            Unmanaged<ConnectAttempt>.fromOpaque(connectRequest.pointee.data!).release()
            connected(status: status)
        }
    }

    private func connected(status: Int32) {
        guard let connection = current else { return }
        current = nil
        if status == 0, completion != nil {
            connection.setNoDelay()
            finish(.success(connection))
            return
        }
        connection.close()
        guard status != clibuv_ecanceled() else {
            // The socket was closed under us (loop shutdown): stop, do not try the next address.
            finish(.failure(UVError.cancelled("connect to \(host):\(port)")))
            return
        }
        lastError = UVError(code: status, operation: "connect to \(host):\(port)")
        tryNext()
    }

    private func finish(_ result: Result<TCPConnection, any Error>) {
        guard let completion else { return }
        self.completion = nil
        timer?.close()
        timer = nil
        current?.close()
        current = nil
        completion(result)
    }
}
