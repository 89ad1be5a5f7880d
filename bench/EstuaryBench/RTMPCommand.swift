import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// `rtmp`: N RTMP publishers of ~2 Mbit/s each into one ingest-node, no readers: node CPU % per stream.
struct RTMPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtmp",
        abstract: "N RTMP publishers at ~2 Mbit/s each into one ingest-node, no readers: node CPU % and RSS MB per stream.")

    @Option(help: "Publisher counts, one node run each.")
    var publishers = CountList([100])

    @Option(help: "Measuring window per run, seconds.")
    var seconds = 20

    @Option(help: "Seconds between all streams alive and the start of the window.")
    var warmup = 5

    @OptionGroup var node: NodeBinaryOptions

    func run() async throws {
        ProcFS.raiseOpenFilesLimit()
        SpawnedNodes.shared.installSignalHandlers()
        let binary = try node.resolvedNodeBinary()
        let (flvPath, tags) = try await FLVTag.testClip()
        let seconds = Double(tags.last?.timestamp ?? 0) / 1000
        report(
            "rtmp source=\(flvPath) tags=\(tags.count) duration_s=\(fixed(seconds, 2)) "
                + "mbit_s=\(fixed(Double(tags.reduce(0) { $0 + $1.body.readableBytes }) * 8 / max(seconds, 0.001) / 1e6, 3))")
        let scratch = try ScratchDirectory(prefix: "rtmp")
        var failed = false
        for count in publishers.values {
            do {
                try await runOnce(count: count, binary: binary, tags: tags, scratch: scratch)
            } catch {
                failed = true
                report("rtmp publishers=\(count) error=\"\(error)\"")
            }
        }
        scratch.remove(keep: node.keepFiles || failed)
        if failed { throw ExitCode(1) }
    }

    private func runOnce(count: Int, binary: String, tags: [FLVTag], scratch: ScratchDirectory) async throws {
        let names = (0..<count).map { "live/s\($0)" }
        var yaml = "streams:\n"
        for name in names { yaml += "  - {name: \(name), inputs: [{url: \"publish://\"}]}\n" }
        let rtmpPort = try freeTCPPort()
        let node = try NodeProcess(
            label: "rtmp-\(count)", binary: binary, yaml: yaml, directory: scratch.url, environment: ["ESTUARY_RTMP_PORT": "\(rtmpPort)"])
        let counters = PacerCounters()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await node.waitHealthy()
            try await Task.sleep(for: .seconds(2))
            let idleRSS = node.residentBytes
            _ = try await RTMPPacer.start(
                tags: tags, port: rtmpPort, app: "live", names: names.map { String($0.dropFirst("live/".count)) }, counters: counters,
                loop: group.next())
            let aliveAtStart = await node.waitAlive(names, timeout: .seconds(30))
            if aliveAtStart < count { note("only \(aliveAtStart) of \(count) streams alive 30 s after the publishers connected") }
            try await Task.sleep(for: .seconds(warmup))
            let inputBefore = try await node.streams().reduce(UInt64(0)) { $0 + $1.stats.bytesIn }
            let start = ContinuousClock.now
            let cpuBefore = node.cpuSeconds
            let benchBefore = ProcFS.selfCPUSeconds()
            let sentBefore = counters.bytes.load(ordering: .relaxed)
            let threadsBefore = node.threadCPUSeconds
            try await Task.sleep(for: .seconds(self.seconds))
            let elapsed = elapsedSeconds(ContinuousClock.now - start)
            let cpuPercent = (node.cpuSeconds - cpuBefore) / elapsed * 100
            let benchPercent = (ProcFS.selfCPUSeconds() - benchBefore) / elapsed * 100
            let sent = Double(counters.bytes.load(ordering: .relaxed) - sentBefore) * 8 / elapsed / 1e6
            let threadsAfter = node.threadCPUSeconds
            let rss = node.residentBytes
            let listed = try await node.streams().filter { names.contains($0.name) }
            let alive = listed.filter(\.stats.alive).count
            let input = (listed.reduce(0.0) { $0 + Double($1.stats.bytesIn) } - Double(inputBefore)) * 8 / elapsed / 1e6
            var line = "rtmp publishers=\(count) alive=\(alive)/\(count) seconds=\(fixed(elapsed, 1))"
            line += " node_cpu_pct=\(fixed(cpuPercent, 1)) node_cpu_pct_per_stream=\(fixed(cpuPercent / Double(count), 3))"
            line += " node_rss_mb=\(fixed(Double(rss) / 1_048_576, 1))"
            line += " rss_mb_per_stream=\(fixed(Double(rss - idleRSS) / 1_048_576 / Double(count), 3))"
            report(line)
            var detail = "rtmp publishers=\(count) sent_mbit_s=\(fixed(sent, 1)) node_input_mbit_s=\(fixed(input, 1))"
            detail += " bench_cpu_pct=\(fixed(benchPercent, 1))"
            detail += " node_threads=\(threadBreakdown(before: threadsBefore, after: threadsAfter, seconds: elapsed))"
            report(detail)
            counters.stopped.store(true, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(200))
            await node.stop()
            try? await group.shutdownGracefully()
            if alive < count { throw BenchError("only \(alive) of \(count) streams alive at the end of the window; see \(node.logPath)") }
        } catch {
            counters.stopped.store(true, ordering: .relaxed)
            await node.stop()
            try? await group.shutdownGracefully()
            throw error
        }
    }
}
