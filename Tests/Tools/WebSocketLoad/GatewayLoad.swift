import Glibc
import Reactor

/// The load client of the gateway WebSocket benchmark (Tests/Bench/ws-gateway-bench.sh):
///   websocket-load gateway PORT GATEWAY_PID CLIENTS CLIENT_IDS EXPECTED
/// Opens CLIENTS sockets to /api/v1/ws/bench-<i mod CLIENT_IDS>, prints "ready", then counts
/// the messages stamped by the emulator (`"sent_ns":`, CLOCK_MONOTONIC) until every socket has
/// EXPECTED of them and one `result`, and prints messages delivered per second, latency from
/// the emulator's send to receipt (p50, p99, max), the gateway's CPU and RSS, and its own CPU.
enum GatewayLoad {
    static func run(_ arguments: [Int], loop: EventLoop) async throws -> String {
        let (port, gatewayPID, clients, clientIDs, expected) = (
            arguments[0], Int32(arguments[1]), arguments[2], arguments[3], arguments[4]
        )
        return try await Task(executorPreference: loop) { () throws -> String in
            let rssBefore = ProcessStats.residentKiB(pid: gatewayPID)
            let connections = try await LoadConnection.connectAll(
                count: clients, port: port, loop: loop, sampleEvery: 1, path: { "/api/v1/ws/bench-\($0 % clientIDs)" }
            ) { connection in
                connection.stampKey = Array(#""sent_ns":"#.utf8)
                connection.expected = expected
            }
            await loop.sleep(milliseconds: 1000)
            let rssIdle = ProcessStats.residentKiB(pid: gatewayPID)
            let gatewayCPU = ProcessStats.cpuSeconds(pid: gatewayPID)
            let ownCPU = ProcessStats.ownCPUSeconds()
            print("ready")
            fflush(nil)
            let result = Array(#""type":"result""#.utf8)
            func results() -> Int {
                connections.reduce(0) { count, connection in
                    count + connection.otherMessages.filter { $0.firstRange(of: result) != nil }.count
                }
            }
            let deadline = monotonicNanoseconds() + 180 * 1_000_000_000
            while monotonicNanoseconds() < deadline {
                if connections.allSatisfy({ $0.received >= expected }) && results() >= clients { break }
                await loop.sleep(milliseconds: 50)
            }
            let gatewayUsed = ProcessStats.cpuSeconds(pid: gatewayPID) - gatewayCPU
            let clientUsed = ProcessStats.ownCPUSeconds() - ownCPU
            let delivered = connections.reduce(0) { $0 + $1.received }
            let first = connections.map(\.firstStampedAt).filter { $0 > 0 }.min() ?? 0
            let last = connections.map(\.lastStampedAt).max() ?? 0
            let window = Double(max(1, last - first)) / 1e9
            let latencies = connections.flatMap(\.latencies).sorted()
            func percentile(_ fraction: Double) -> Double {
                latencies.isEmpty
                    ? .nan : Double(latencies[min(latencies.count - 1, Int(fraction * Double(latencies.count)))]) / 1e6
            }
            let peak = ProcessStats.residentKiB(pid: gatewayPID, field: "VmHWM:")
            let resultCount = results()
            for connection in connections { connection.tcp.close() }
            func format(_ value: Double) -> String { String((value * 10).rounded() / 10) }
            return "progress delivered \(delivered)/\(clients * expected), results \(resultCount)/\(clients); "
                + "\(Int(Double(delivered) / window)) msg/s over \(format(window)) s; "
                + "latency p50 \(format(percentile(0.5))) ms p99 \(format(percentile(0.99))) ms "
                + "max \(format(percentile(1.0))) ms; gateway CPU \(format(gatewayUsed)) s "
                + "(\(format(100 * gatewayUsed / window))% of the window), RSS idle "
                + "\((rssIdle - rssBefore) / 1024) MiB over \(clients) sockets, peak \(peak / 1024) MiB; "
                + "client CPU \(format(clientUsed)) s (\(format(100 * clientUsed / window))%)"
        }.value
    }
}
