import Glibc

/// What the benchmark reads about a process from /proc, and about itself from getrusage.
enum ProcessStats {
    /// Resident set size of `pid` in KiB (`VmHWM:`, the peak, with `field`).
    static func residentKiB(pid: Int32, field: String = "VmRSS:") -> Int {
        guard let status = read("/proc/\(pid)/status") else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field) {
            return Int(line.split(separator: " ")[1]) ?? 0
        }
        return 0
    }

    /// User plus system CPU seconds `pid` has used.
    static func cpuSeconds(pid: Int32) -> Double {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
        return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// User plus system CPU seconds this process has used.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    private static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            text.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
