import CLibUV
import Glibc

/// Sends service state to systemd (`sd_notify`): one datagram per message to the `AF_UNIX`
/// socket named by `$NOTIFY_SOCKET`, a path or, with a leading `@`, an abstract name.
///
/// Sending never blocks: a datagram the manager's queue cannot take is dropped and `send`
/// returns false, as `sd_notify` would report. The socket is opened once, at creation, so that
/// a process out of file descriptors (a saturated server) still pings the watchdog. `sendto`
/// on it is safe from any thread.
package final class SystemdNotifier: Sendable {
    /// The socket address as given in `$NOTIFY_SOCKET`.
    package let address: String
    private let descriptor: Int32

    /// The notifier for `$NOTIFY_SOCKET`, or nil when the process was not started by systemd
    /// with `Type=notify` (unset, empty, or not an absolute path or abstract name).
    package convenience init?(environment: [String: String]) {
        guard let address = environment["NOTIFY_SOCKET"] else { return nil }
        self.init(address: address)
    }

    /// A notifier for `address` (`/run/systemd/notify` or `@name`); nil when it cannot be a Unix
    /// socket address.
    package init?(address: String) {
        let bytes = Array(address.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "@"), bytes.count > 1,
            bytes.count <= MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        else { return nil }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        self.address = address
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Sends `state`, newline-separated `KEY=value` assignments (`READY=1\nSTATUS=Serving`).
    @discardableResult
    package func send(_ state: String) -> Bool {
        var destination = sockaddr_un()
        destination.sun_family = sa_family_t(AF_UNIX)
        var path = Array(address.utf8)
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }
        withUnsafeMutableBytes(of: &destination.sun_path) { buffer in
            buffer.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout.offset(of: \sockaddr_un.sun_path)! + path.count)
        let payload = Array(state.utf8)
        let sent = withUnsafePointer(to: &destination) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                payload.withUnsafeBytes { bytes in
                    sendto(
                        descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), address, length)
                }
            }
        }
        return sent == payload.count
    }
}
