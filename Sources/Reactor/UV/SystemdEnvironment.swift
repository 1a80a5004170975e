import CLibUV
import Glibc

/// What systemd passes a service in its environment besides `$NOTIFY_SOCKET`: the watchdog
/// interval and the sockets of socket activation. Each applies only when its `*_PID` variable
/// names this process (or, for the watchdog, is absent), as `sd_watchdog_enabled` and
/// `sd_listen_fds` require.
package enum SystemdEnvironment {
    /// The first file descriptor systemd passes (`SD_LISTEN_FDS_START`).
    package static let firstListenDescriptor: Int32 = 3

    /// This process's id.
    package static var processID: Int32 { getpid() }

    /// The watchdog interval from `$WATCHDOG_USEC` (the service must ping at least this often;
    /// pinging at half of it is customary), or nil when no watchdog is set for `processID`.
    package static func watchdogInterval(_ environment: [String: String], processID: Int32) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else {
            return nil
        }
        if let owner = environment["WATCHDOG_PID"], Int32(owner) != processID { return nil }
        return .microseconds(microseconds)
    }

    /// The descriptors passed by socket activation (`$LISTEN_FDS` of them from 3 on), or an empty
    /// list when there are none for `processID`.
    package static func listenDescriptors(_ environment: [String: String], processID: Int32) -> [Int32] {
        guard let owner = environment["LISTEN_PID"], Int32(owner) == processID,
            let text = environment["LISTEN_FDS"], let count = Int32(text), count > 0, count < 1024
        else { return [] }
        return (0..<count).map { firstListenDescriptor + $0 }
    }

    /// Marks `descriptors` close-on-exec, as `sd_listen_fds` does, so that nothing the process
    /// might start inherits the listening sockets.
    package static func closeOnExec(_ descriptors: [Int32]) {
        for descriptor in descriptors {
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// `CLOCK_MONOTONIC` in microseconds, for the `MONOTONIC_USEC=` field that must accompany
    /// `RELOADING=1`.
    package static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
