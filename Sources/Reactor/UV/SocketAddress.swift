import CLibUV
import Glibc

/// Conversions between `host`/`port` strings and socket addresses, for binding and for logs.
enum SocketAddress {
    /// Parses an IPv4 or IPv6 literal (`localhost` means 127.0.0.1) into a socket address.
    static func parse(host: String, port: Int) throws(UVError) -> sockaddr_storage {
        var storage = sockaddr_storage()
        let literal = host == "localhost" ? "127.0.0.1" : host
        var status: Int32 = -1
        if literal.contains(":") {
            status = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(literal, Int32(port), $0) }
            }
        } else {
            status = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(literal, Int32(port), $0) }
            }
        }
        try uvCheck(status, "parse address")
        return storage
    }

    /// `host:port` (`[host]:port` for IPv6) of a socket address.
    static func describe(_ storage: sockaddr_storage) -> String {
        var storage = storage
        var name = [CChar](repeating: 0, count: 64)
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                if Int32(address.pointee.sa_family) == AF_INET6 {
                    return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        uv_ip6_name(v6, &name, name.count)
                        return "[\(text(name))]:\(UInt16(bigEndian: v6.pointee.sin6_port))"
                    }
                }
                return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                    uv_ip4_name(v4, &name, name.count)
                    return "\(text(name)):\(UInt16(bigEndian: v4.pointee.sin_port))"
                }
            }
        }
    }

    private static func text(_ name: [CChar]) -> String {
        String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The port of a socket address.
    static func port(_ storage: sockaddr_storage) -> Int {
        var storage = storage
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }
}
