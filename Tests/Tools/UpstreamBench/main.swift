// Measures the gateway's upstream path alone in its own process (part of `make bench`):
// a 100 MB file streamed from the ComfyUI emulator's /view through AtomComfyHTTP, three times,
// printing MB/s and how much this process's RSS grew (the body must pass in constant memory).
import AtomComfyHTTP
import Client
import ComfyEmulatorSupport
import Foundation
import Reactor

func residentKiB() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

let emulator = try await ComfyEmulator.start()
defer { emulator.stop() }
let path = emulator.rootPath + "/output/big.bin"
_ = FileManager.default.createFile(atPath: path, contents: nil)
let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
let megabyte = Data(repeating: 7, count: 1 << 20)
for _ in 0..<100 { file.write(megabyte) }
try file.close()

let loop = try EventLoop()
loop.start()
let report = try await Task(executorPreference: loop) { () -> [String] in
    let client = HTTPClient(loop: loop, configuration: emulator.clientConfiguration)
    defer { client.shutdown() }
    let api = ComfyAPI(client: client)
    var lines: [String] = []
    let baseline = residentKiB()
    for round in 1...3 {
        let started = ContinuousClock.now
        let download = try await api.view(filename: "big.bin")
        var total = 0
        var peak = residentKiB()
        for try await chunk in download.body {
            total += chunk.count
            if total % (4 << 20) < chunk.count { peak = max(peak, residentKiB()) }
        }
        let seconds =
            Double((ContinuousClock.now - started).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - started).components.seconds)
        lines.append(
            "round \(round): \(total / (1 << 20)) MiB in \(String(format: "%.2f", seconds)) s "
                + "(\(Int(Double(total) / seconds / 1e6)) MB/s), peak RSS growth \(peak - baseline) KiB")
    }
    return lines
}.value
for line in report { print("upstream /view 100 MB: \(line)") }
loop.shutdown()
