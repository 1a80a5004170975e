// The load client of the WebSocket broadcast benchmark (Tests/Bench/ws-bench.sh), in Swift on
// our reactor so it is not the bottleneck (a Python client topped out near 100 % CPU):
//   websocket-load PORT SERVER_PID [CLIENTS] [COUNT] [SIZE] [start|paced]
// Opens CLIENTS connections to ws://127.0.0.1:PORT/broadcast, records the server's RSS per idle
// connection, asks for COUNT broadcasts of SIZE bytes (back to back with "start", the default;
// one per server loop turn with "paced"), and prints messages delivered per second, delivery
// latency (p50, p99), the server's CPU and this client's own CPU.
// `websocket-load gateway ...` is the gateway benchmark's client instead (GatewayLoad.swift).
import Glibc
import Reactor

if CommandLine.arguments.dropFirst().first == "gateway" {
    let numbers = CommandLine.arguments.dropFirst(2).compactMap { Int($0) }
    guard numbers.count == 5 else {
        print("usage: websocket-load gateway PORT GATEWAY_PID CLIENTS CLIENT_IDS EXPECTED")
        exit(2)
    }
    raiseFileLimit()
    let loop = try EventLoop()
    loop.start()
    print(try await GatewayLoad.run(numbers, loop: loop))
    loop.shutdown()
    exit(0)
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let mode = CommandLine.arguments.last == "paced" ? "paced" : "start"
guard arguments.count >= 2 else {
    print("usage: websocket-load PORT SERVER_PID [CLIENTS] [COUNT] [SIZE] [start|paced]")
    exit(2)
}
let (port, serverPID) = (arguments[0], Int32(arguments[1]))
let clients = arguments.count > 2 ? arguments[2] : 1000
let count = arguments.count > 3 ? arguments[3] : 200
let size = arguments.count > 4 ? arguments[4] : 200
raiseFileLimit()

let loop = try EventLoop()
loop.start()
let report = try await Task(executorPreference: loop) { () throws -> String in
    let rssBefore = ProcessStats.residentKiB(pid: serverPID)
    let connections = try await LoadConnection.connectAll(
        count: clients, port: port, loop: loop, sampleEvery: 10, path: { _ in "/broadcast" })
    await loop.sleep(milliseconds: 1000)
    let rssIdle = ProcessStats.residentKiB(pid: serverPID)
    let serverCPU = ProcessStats.cpuSeconds(pid: serverPID)
    let ownCPU = ProcessStats.ownCPUSeconds()
    let started = monotonicNanoseconds()
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        var remaining = connections.count
        let timer = LoopTimer(loop: loop)
        let finishOne = {
            remaining -= 1
            if remaining == 0 {
                timer.close()
                continuation.resume()
            }
        }
        timer.start(afterMilliseconds: 60_000) {
            for connection in connections { connection.tcp.close() }
        }
        for connection in connections {
            connection.expected = count
            connection.onFinished = finishOne
        }
        connections[0].send(text: "\(mode) \(count) \(size)")
    }
    let elapsed = Double(monotonicNanoseconds() - started) / 1e9
    let serverUsed = ProcessStats.cpuSeconds(pid: serverPID) - serverCPU
    let clientUsed = ProcessStats.ownCPUSeconds() - ownCPU
    let delivered = connections.reduce(0) { $0 + $1.received }
    let latencies = connections.flatMap(\.latencies).sorted()
    func percentile(_ fraction: Double) -> Double {
        latencies.isEmpty
            ? .nan : Double(latencies[min(latencies.count - 1, Int(fraction * Double(latencies.count)))]) / 1e6
    }
    for connection in connections { connection.tcp.close() }
    func format(_ value: Double, _ digits: Int) -> String {
        let scale = (0..<digits).reduce(1.0) { value, _ in value * 10 }
        let rounded = (value * scale).rounded() / scale
        return digits == 0 ? String(Int(rounded)) : String(rounded)
    }
    return "delivered \(delivered)/\(clients * count) in \(format(elapsed, 3))s: "
        + "\(format(Double(delivered) / elapsed, 0)) msg/s, latency p50 \(format(percentile(0.5), 1)) ms "
        + "p99 \(format(percentile(0.99), 1)) ms, server CPU \(format(serverUsed, 2))s "
        + "(\(format(100 * serverUsed / elapsed, 0))%), client CPU \(format(clientUsed, 2))s "
        + "(\(format(100 * clientUsed / elapsed, 0))%), RSS per idle connection "
        + "\(format(Double(rssIdle - rssBefore) / Double(clients), 1)) KiB"
}.value
print(report)
loop.shutdown()

/// Why the benchmark could not start.
enum LoadError: Error {
    case handshakeRefused
}

/// Raises the open-file limit to its hard maximum (a thousand sockets and more).
func raiseFileLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
