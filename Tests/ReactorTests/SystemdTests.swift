import Glibc
import LoopbackTestSupport
import Reactor
import Testing

/// The systemd service protocol pieces: notify datagrams (to a path and to an abstract name),
/// the environment systemd passes, and serving an inherited listening socket.
struct SystemdTests {
    /// A datagram socket standing in for systemd's notify socket.
    final class NotifyReceiver {
        let descriptor: Int32
        let address: String
        private let path: String?

        init(abstract: Bool) throws {
            descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            let name = "comfy-gateway-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            path = abstract ? nil : "/tmp/\(name).sock"
            address = abstract ? "@\(name)" : path!
            var bytes = Array((path ?? name).utf8)
            if abstract { bytes.insert(0, at: 0) }
            var storage = sockaddr_un()
            storage.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
            let length = socklen_t(MemoryLayout.offset(of: \sockaddr_un.sun_path)! + bytes.count)
            let bound = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
            }
            try #require(bound == 0)
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        func receive() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &buffer, buffer.count, 0)
            return count < 0 ? nil : String(decoding: buffer.prefix(count), as: UTF8.self)
        }

        deinit {
            close(descriptor)
            if let path { unlink(path) }
        }
    }

    @Test(arguments: [true, false])
    func notifierSendsDatagrams(abstract: Bool) throws {
        let receiver = try NotifyReceiver(abstract: abstract)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.address]))
        #expect(notifier.send("READY=1\nSTATUS=Listening"))
        #expect(notifier.send("WATCHDOG=1"))
        #expect(receiver.receive() == "READY=1\nSTATUS=Listening")
        #expect(receiver.receive() == "WATCHDOG=1")
    }

    @Test func notifierIsOffWithoutAUsableSocket() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)]) == nil)
        let nobody = SystemdNotifier(address: "@comfy-gateway-test-nobody-listens-\(getpid())")
        #expect(nobody?.send("READY=1") == false)
    }

    @Test func watchdogIntervalFollowsWatchdogPID() {
        #expect(SystemdEnvironment.watchdogInterval(["WATCHDOG_USEC": "30000000"], processID: 42) == .seconds(30))
        #expect(
            SystemdEnvironment.watchdogInterval(["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "42"], processID: 42)
                == .milliseconds(400))
        #expect(
            SystemdEnvironment.watchdogInterval(["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "7"], processID: 42) == nil)
        #expect(SystemdEnvironment.watchdogInterval(["WATCHDOG_USEC": "0"], processID: 42) == nil)
        #expect(SystemdEnvironment.watchdogInterval(["WATCHDOG_USEC": "soon"], processID: 42) == nil)
        #expect(SystemdEnvironment.watchdogInterval([:], processID: 42) == nil)
    }

    @Test func listenDescriptorsFollowListenPID() {
        #expect(
            SystemdEnvironment.listenDescriptors(["LISTEN_PID": "42", "LISTEN_FDS": "2"], processID: 42) == [3, 4])
        #expect(SystemdEnvironment.listenDescriptors(["LISTEN_PID": "7", "LISTEN_FDS": "1"], processID: 42).isEmpty)
        #expect(SystemdEnvironment.listenDescriptors(["LISTEN_FDS": "1"], processID: 42).isEmpty)
        #expect(SystemdEnvironment.listenDescriptors(["LISTEN_PID": "42", "LISTEN_FDS": "0"], processID: 42).isEmpty)
    }

    @Test func monotonicClockIsCLOCK_MONOTONIC() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let expected = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        let reported = SystemdEnvironment.monotonicMicroseconds()
        #expect(reported >= expected && reported - expected < 1_000_000)
    }

    @Test func listenerServesAnInheritedSocket() async throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0 && listen(descriptor, 16) == 0)
        let loop = try EventLoop()
        loop.start()
        let accepted = AcceptCounter()
        let port = try await loop.submit {
            let listener = try TCPListener(loop: loop, adopting: descriptor) { connection in
                accepted.count += 1
                connection.close()
            }
            accepted.listener = listener
            return listener.localPort
        }
        let client = try await LoopbackClient.connect(loop: loop, port: port)
        #expect(try await client.waitForClose())
        #expect(try await loop.submit { accepted.count } == 1)
        try await loop.submit { accepted.listener?.stopAccepting() }
        loop.shutdown()
    }

    @Test func adoptingSomethingElseThanATCPSocketFails() async throws {
        var pipeEnds: [Int32] = [0, 0]
        try #require(pipe(&pipeEnds) == 0)
        defer { pipeEnds.forEach { close($0) } }
        let readEnd = pipeEnds[0]
        let loop = try EventLoop()
        loop.start()
        let failed = try await loop.submit {
            (try? TCPListener(loop: loop, adopting: readEnd) { _ in }) == nil
        }
        #expect(failed)
        loop.shutdown()
    }

    final class AcceptCounter: @unchecked Sendable {
        var count = 0
        var listener: TCPListener?
    }

    @Test func fileLimitIsRaisedToTheHardLimit() {
        let soft = FileDescriptorLimit.raiseToHardLimit()
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        #expect(soft == UInt64(limit.rlim_cur))
        #expect(limit.rlim_cur == limit.rlim_max)
    }
}
