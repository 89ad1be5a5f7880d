import ArgumentParser
import Foundation

/// `dvr-record`: N streams (~2.6 Mbit/s each) in a dvr-node, recorded and not: CPU per stream for
/// recording, write MB/s, fsyncs per second. The streams are `fake://` sources inside the dvr-node, or (`--feed m4f`)
/// pulled over M4F from an ingest-node running the fake sources, as a cluster records them; the figures are the
/// dvr-node's alone.
struct DVRRecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dvr-record",
        abstract: "N fake streams recorded by a dvr-node vs the same streams unrecorded: CPU % per stream, MB/s, fsyncs/s.")

    @Option(help: "Stream counts, one pair of runs each.") var streams = CountList([50, 200])
    @Option(help: "Measuring window per run, seconds.") var seconds = 20
    @Option(help: "Seconds between start and the window (the first segments).") var warmup = 8
    @Option(help: "Where the streams come from: fake (sources inside the dvr-node) or m4f (pulled from an ingest-node).")
    var feed = Feed.m4f
    @OptionGroup var node: NodeBinaryOptions

    enum Feed: String, ExpressibleByArgument {
        case fake, m4f
    }

    func run() async throws {
        ProcFS.raiseOpenFilesLimit()
        SpawnedNodes.shared.installSignalHandlers()
        let binary = try node.resolvedNodeBinary("dvr-node")
        let ingestBinary = feed == .m4f ? try node.resolvedNodeBinary("ingest-node") : nil
        let scratch = try ScratchDirectory(prefix: "dvr-record")
        var failed = false
        for count in streams.values {
            var ingest: NodeProcess?
            do {
                if let ingestBinary {
                    var yaml = "client_limits: {connections: \(count + 1000), connections_per_ip: \(count + 100)}\nstreams:\n"
                    for index in 0..<count { yaml += "  - {name: r\(index), inputs: [{url: \"fake://r\(index)\"}]}\n" }
                    let feeder = try NodeProcess(label: "feed-\(count)", binary: ingestBinary, yaml: yaml, directory: scratch.url)
                    ingest = feeder
                    try await feeder.waitHealthy()
                }
                let plain = try await measure(count: count, record: false, binary: binary, scratch: scratch, feeder: ingest)
                let recorded = try await measure(count: count, record: true, binary: binary, scratch: scratch, feeder: ingest)
                await ingest?.stop()
                let perStream = (recorded.cpuPercent - plain.cpuPercent) / Double(count)
                report(
                    "dvr-record streams=\(count) feed=\(feed.rawValue) live_only_cpu_pct=\(fixed(plain.cpuPercent, 1)) recording_cpu_pct=\(fixed(recorded.cpuPercent, 1)) "
                        + "recording_cost_pct_per_stream=\(fixed(perStream, 3)) total_pct_per_stream=\(fixed(recorded.cpuPercent / Double(count), 3)) "
                        + "write_mb_s=\(fixed(recorded.writeMBps, 1)) segments_s=\(fixed(recorded.segmentsPerSecond, 1)) "
                        + "fsyncs_s=\(fixed(recorded.segmentsPerSecond * 3, 1)) target_total_pct_per_stream=0.15 "
                        + "\(recorded.cpuPercent / Double(count) <= 0.15 ? "MET" : "MISSED")")
            } catch {
                await ingest?.stop()
                failed = true
                report("dvr-record streams=\(count) error=\"\(error)\"")
            }
        }
        scratch.remove(keep: node.keepFiles || failed)
        if failed { throw ExitCode(1) }
    }

    struct Figures {
        var cpuPercent: Double
        var writeMBps: Double
        var segmentsPerSecond: Double
    }

    private func measure(count: Int, record: Bool, binary: String, scratch: ScratchDirectory, feeder: NodeProcess?) async throws -> Figures
    {
        let root = scratch.url.appendingPathComponent("storage-\(count)-\(record)").path
        var yaml = "streams:\n"
        for index in 0..<count {
            let url = feeder.map { "m4f://127.0.0.1:\($0.port)/r\(index)" } ?? "fake://r\(index)"
            yaml += "  - {name: r\(index), inputs: [{url: \"\(url)\"}]\(record ? ", dvr: {root: \(root)}" : "")}\n"
        }
        let node = try NodeProcess(label: "dvr-\(count)-\(record)", binary: binary, yaml: yaml, directory: scratch.url)
        do {
            try await node.waitHealthy()
            try await Task.sleep(for: .seconds(warmup))
            let bytesBefore = directorySize(root)
            let segmentsBefore = segmentCount(root)
            let cpuBefore = node.cpuSeconds
            try await Task.sleep(for: .seconds(seconds))
            let cpu = node.cpuSeconds - cpuBefore
            let bytes = directorySize(root) - bytesBefore
            let segments = segmentCount(root) - segmentsBefore
            let alive = try await node.streams().filter { $0.stats.alive }.count
            await node.stop()
            guard alive == count else { throw BenchError("\(alive) of \(count) streams alive") }
            return Figures(
                cpuPercent: cpu * 100 / Double(seconds), writeMBps: Double(bytes) / 1e6 / Double(seconds),
                segmentsPerSecond: Double(segments) / Double(seconds))
        } catch {
            await node.stop()
            throw error
        }
    }

    private func files(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".m4s") }
            .map { "\(root)/\($0)" }
    }

    private func directorySize(_ root: String) -> Int {
        files(root).reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
    }

    private func segmentCount(_ root: String) -> Int { files(root).count }
}
