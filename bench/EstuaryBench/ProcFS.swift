import Foundation
import Glibc

/// Reads process figures from Linux's `/proc`: CPU time, resident memory, per-thread CPU.
enum ProcFS {
    /// Clock ticks per second, the unit of `utime` and `stime` in `/proc/PID/stat`.
    static let clockTicksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The whole text of a `/proc` file (whose size `stat` reports as 0), or nil.
    static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The command name and user+system CPU seconds from a `stat` file's text.
    static func parseStat(_ text: String) -> (name: String, cpuSeconds: Double)? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let name = String(text[text.index(after: open)..<close])
        // Fields after the command name start at field 3 (state); utime is field 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (name, (user + system) / clockTicksPerSecond)
    }

    /// User+system CPU seconds of a process, all threads together.
    static func cpuSeconds(pid: pid_t) -> Double? {
        readText("/proc/\(pid)/stat").flatMap(parseStat)?.cpuSeconds
    }

    /// User+system CPU seconds of this process.
    static func selfCPUSeconds() -> Double {
        readText("/proc/self/stat").flatMap(parseStat)?.cpuSeconds ?? 0
    }

    /// `VmRSS` of a process, in bytes.
    static func residentBytes(pid: pid_t) -> Int? {
        guard let text = readText("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if parts.count >= 2, let kilobytes = Int(parts[1]) { return kilobytes * 1024 }
        }
        return nil
    }

    /// CPU seconds per thread name (threads of one name are summed: NIO event loops have
    /// their own names, Swift concurrency's worker threads carry the process's name).
    static func threadCPUSeconds(pid: pid_t) -> [String: Double] {
        var byName: [String: Double] = [:]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for tid in tasks {
            guard let stat = readText("/proc/\(pid)/task/\(tid)/stat").flatMap(parseStat) else { continue }
            byName[stat.name, default: 0] += stat.cpuSeconds
        }
        return byName
    }

    /// The path of the running executable.
    static func selfExecutablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Raises the open-files soft limit to the hard limit (20,000 on these machines).
    @discardableResult
    static func raiseOpenFilesLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(openFilesResource, &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(openFilesResource, &limit)
        }
        return Int(clamping: limit.rlim_cur)
    }

    private static let openFilesResource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
}

/// CPU used by a process's threads over a window, as `name=percent-of-one-core` pairs,
/// busiest first.
func threadBreakdown(before: [String: Double], after: [String: Double], seconds: Double, limit: Int = 6) -> String {
    var deltas: [(String, Double)] = []
    for (name, end) in after {
        let used = end - (before[name] ?? 0)
        if used > 0.005 { deltas.append((name, used)) }
    }
    deltas.sort { $0.1 > $1.1 }
    return deltas.prefix(limit).map { "\($0.0.replacingOccurrences(of: " ", with: "_"))=\(fixed($0.1 / seconds * 100, 1))%" }
        .joined(separator: ",")
}
