import ArgumentParser
import EstuaryDVR
import Foundation
import Glibc
import NIOCore

/// `replicate`: backfill N GB of synthetic archive from a primary dvr-node into a secondary through the
/// replicator, without a speed limit: MB/s end to end (verified by sha256 on import) and CPU-s per GB of
/// the three processes together.
struct ReplicateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate",
        abstract: "Backfill synthetic archive between two dvr-nodes through the replicator: MB/s and CPU-s per GB.")

    @Option(help: "Gigabytes (10^9 bytes) of archive to copy.") var gigabytes = 10.0
    @Option(help: "Streams the archive is spread over.") var streams = 10
    @Option(help: "Bytes per synthetic segment.") var segmentBytes = 2_000_000
    @OptionGroup var node: NodeBinaryOptions

    func run() async throws {
        ProcFS.raiseOpenFilesLimit()
        SpawnedNodes.shared.installSignalHandlers()
        let dvrBinary = try node.resolvedNodeBinary("dvr-node")
        let replicatorBinary = try node.resolvedNodeBinary("replicator")
        let scratch = try ScratchDirectory(prefix: "replicate")
        let primaryRoot = scratch.url.appendingPathComponent("primary").path
        let secondaryRoot = scratch.url.appendingPathComponent("secondary").path
        let perStream = Int(gigabytes * 1e9) / segmentBytes / streams
        let total = perStream * streams * segmentBytes
        let began = ContinuousClock.now
        let end = Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000
        for index in 0..<streams {
            try seed(root: primaryRoot, name: "r\(index)", count: perStream, endingAtMs: end)
        }
        report(
            "replicate seeded bytes=\(total) streams=\(streams) segments=\(perStream * streams) seconds=\(fixed(elapsedSeconds(.now - began), 1))"
        )
        let key = "bench-key"
        var primaryYAML = "cluster_key: \(key)\nstreams:\n"
        var secondaryYAML = "cluster_key: \(key)\nstreams:\n"
        let primaryPort = try freeTCPPort()
        for index in 0..<streams {
            primaryYAML +=
                "  - {name: r\(index), inputs: [{url: \"udp://127.0.0.1:\(30_500 + index)\", source_timeout: 600}], dvr: {root: \(primaryRoot)}}\n"
            secondaryYAML +=
                "  - {name: r\(index), inputs: [{url: \"m4f://127.0.0.1:\(primaryPort)/r\(index)\", source_timeout: 600}], "
                + "dvr: {root: \(secondaryRoot), replicate: true}}\n"
        }
        let primary = try NodeProcess(label: "primary", binary: dvrBinary, yaml: primaryYAML, directory: scratch.url, port: primaryPort)
        let secondary = try NodeProcess(label: "secondary", binary: dvrBinary, yaml: secondaryYAML, directory: scratch.url)
        var processes = [primary, secondary]
        do {
            try await primary.waitHealthy()
            try await secondary.waitHealthy()
            let statusPort = try freeTCPPort()
            let replicator = try NodeProcess(
                label: "replicator", binary: replicatorBinary,
                arguments: ["--listen", "127.0.0.1:\(statusPort)", "--target", "http://127.0.0.1:\(secondary.port)"],
                directory: scratch.url, environment: ["ESTUARY_CLUSTER_KEY": key], port: statusPort)
            processes.append(replicator)
            let cpuBefore = processes.map(\.cpuSeconds)
            let started = ContinuousClock.now
            var copied = 0
            while ContinuousClock.now - started < .seconds(1800) {
                copied = directoryBytes(secondaryRoot)
                if copied >= total { break }
                try await Task.sleep(for: .milliseconds(200))
                guard replicator.isRunning else { throw BenchError("the replicator exited; see \(replicator.logPath)") }
            }
            let seconds = elapsedSeconds(.now - started)
            let spent = zip(processes, cpuBefore).map { $0.cpuSeconds - $1 }
            let cpu = spent.reduce(0, +)
            let mbps = Double(copied) / 1e6 / seconds
            let cpuPerGB = cpu / (Double(copied) / 1e9)
            report(
                "replicate bytes=\(copied) seconds=\(fixed(seconds, 1)) mb_s=\(fixed(mbps, 1)) cpu_s=\(fixed(cpu, 1)) cpu_s_per_gb=\(fixed(cpuPerGB, 2)) "
                    + "target_mb_s=500 \(mbps >= 500 ? "MET" : "MISSED") target_cpu_s_per_gb=1 \(cpuPerGB < 1 ? "MET" : "MISSED")")
            let gigabytes = Double(copied) / 1e9
            report(
                "replicate cpu_s_per_gb primary=\(fixed(spent[0] / gigabytes, 2)) secondary=\(fixed(spent[1] / gigabytes, 2)) "
                    + "replicator=\(fixed(spent[2] / gigabytes, 2))")
            for process in processes.reversed() { await process.stop() }
        } catch {
            for process in processes.reversed() { await process.stop() }
            scratch.remove(keep: true)
            throw error
        }
        scratch.remove(keep: node.keepFiles)
    }

    private func seed(root: String, name: String, count: Int, endingAtMs end: Int64) throws {
        let archive = try StreamArchive.open(root: root, name: name)
        var initBytes = box("ftyp", 16, 1)
        var moov = box("moov", 100, 1)
        initBytes.writeBuffer(&moov)
        let initID = try archive.storeInit(initBytes)
        var payload = box("mdat", segmentBytes - 88, 0x5A)
        for index in 0..<count {
            var fragment = box("styp", 8, 0)
            var moof = box("moof", 64, UInt8(index % 251))
            fragment.writeBuffer(&moof)
            fragment.writeImmutableBuffer(payload)
            payload.setInteger(UInt64(index), at: payload.readerIndex + 8)
            try archive.write(fragments: [fragment], startMs: end - Int64(count - index) * 4000, durationMs: 4000, initID: initID)
        }
    }

    private func box(_ type: String, _ payload: Int, _ fill: UInt8) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(8 + payload))
        buffer.writeString(type)
        buffer.writeRepeatingByte(fill, count: payload)
        return buffer
    }

    /// Bytes of the `.m4s` files under `root`, by `readdir` and `stat` (Foundation's enumerator cost the
    /// bench a quarter of a core at 5 polls a second, taken from the processes it measures).
    private func directoryBytes(_ root: String) -> Int {
        guard let directory = opendir(root) else { return 0 }
        defer { closedir(directory) }
        var total = 0
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let path = "\(root)/\(name)"
            if Int32(entry.pointee.d_type) == Int32(DT_DIR) {
                total += directoryBytes(path)
            } else if name.hasSuffix(".m4s") {
                var info = stat()
                if stat(path, &info) == 0 { total += Int(info.st_size) }
            }
        }
        return total
    }
}
