import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// `ingest`: N MPEG-TS-over-UDP streams of ~2 Mbit/s each, no readers: node CPU and RSS per stream.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "N udp:// MPEG-TS streams at ~2 Mbit/s each and no readers: node CPU % and RSS MB per stream.")

    @Option(help: "Stream counts, one node run each.")
    var streams = CountList([50, 200])

    @Option(help: "Measuring window per run, seconds.")
    var seconds = 20

    @Option(help: "Seconds between all streams alive and the start of the window.")
    var warmup = 5

    @Option(help: "UDP port of the first stream; stream i listens on base+i.")
    var basePort = 20_000

    @Option(help: "The MPEG-TS file to send (default: made once with ffmpeg in the temporary directory).")
    var tsFile: String?

    @OptionGroup var node: NodeBinaryOptions

    func run() async throws {
        ProcFS.raiseOpenFilesLimit()
        SpawnedNodes.shared.installSignalHandlers()
        let binary = try node.resolvedNodeBinary()
        let source = try await TestTransportStream.load(path: tsFile)
        report(
            "ingest source=\(source.path) bytes=\(source.bytes.readableBytes) duration_s=\(fixed(source.duration, 2)) "
                + "mbit_s=\(fixed(source.bytesPerSecond * 8 / 1e6, 3))")
        let scratch = try ScratchDirectory(prefix: "ingest")
        var failed = false
        for count in streams.values {
            do {
                try await runOnce(streams: count, binary: binary, source: source, scratch: scratch)
            } catch {
                failed = true
                report("ingest streams=\(count) error=\"\(error)\"")
            }
        }
        scratch.remove(keep: node.keepFiles || failed)
        if failed { throw ExitCode(1) }
    }

    private func runOnce(streams count: Int, binary: String, source: TestTransportStream, scratch: ScratchDirectory) async throws {
        let names = (0..<count).map { "udp\($0)" }
        let ports = (0..<count).map { basePort + $0 }
        var yaml = "streams:\n"
        for (name, port) in zip(names, ports) {
            yaml += "  - name: \(name)\n    inputs: [{url: \"udp://127.0.0.1:\(port)\"}]\n"
        }
        let node = try NodeProcess(label: "ingest-\(count)", binary: binary, yaml: yaml, directory: scratch.url)
        let counters = PacerCounters()
        var sender: (any Channel)?
        do {
            try await node.waitHealthy()
            // The idle node: streams configured and sockets bound, no datagram yet.
            try await Task.sleep(for: .seconds(2))
            let idleCPUStart = node.cpuSeconds
            let idleClock = ContinuousClock.now
            try await Task.sleep(for: .seconds(2))
            let idleCPU = (node.cpuSeconds - idleCPUStart) / elapsedSeconds(ContinuousClock.now - idleClock)
            let idleRSS = node.residentBytes

            sender = try await UDPPacer.start(
                file: source.bytes, bytesPerSecond: source.bytesPerSecond, ports: ports, counters: counters,
                group: MultiThreadedEventLoopGroup.singleton)
            let aliveAtStart = await node.waitAlive(names, timeout: .seconds(30))
            if aliveAtStart < count {
                note("only \(aliveAtStart) of \(count) streams alive 30 s after the first datagrams; measuring anyway")
            }
            try await Task.sleep(for: .seconds(warmup))

            let inputBefore = try await node.streams().reduce(UInt64(0)) { $0 + $1.stats.bytesIn }
            let start = ContinuousClock.now
            let cpuBefore = node.cpuSeconds
            let benchBefore = ProcFS.selfCPUSeconds()
            let sentBefore = counters.bytes.load(ordering: .relaxed)
            let threadsBefore = node.threadCPUSeconds
            var peakRSS = node.residentBytes
            let end = start + .seconds(seconds)
            while ContinuousClock.now < end {
                try await Task.sleep(until: min(end, ContinuousClock.now + .seconds(1)))
                peakRSS = max(peakRSS, node.residentBytes)
            }
            let cpuAfter = node.cpuSeconds
            let benchAfter = ProcFS.selfCPUSeconds()
            let sentAfter = counters.bytes.load(ordering: .relaxed)
            let threadsAfter = node.threadCPUSeconds
            let elapsed = elapsedSeconds(ContinuousClock.now - start)
            let rss = node.residentBytes

            let listed = try await node.streams().filter { names.contains($0.name) }
            let alive = listed.filter(\.stats.alive).count
            let inputBits = (listed.reduce(0.0) { $0 + Double($1.stats.bytesIn) } - Double(inputBefore)) * 8 / elapsed
            let reconnects = listed.reduce(0) { $0 + $1.stats.sourceReconnects }
            let cpuPercent = (cpuAfter - cpuBefore) / elapsed * 100
            var line = "ingest streams=\(count) alive=\(alive)/\(count) seconds=\(fixed(elapsed, 1))"
            line += " node_cpu_pct=\(fixed(cpuPercent, 1))"
            line += " node_cpu_pct_per_stream=\(fixed(cpuPercent / Double(count), 3))"
            line += " node_rss_mb=\(fixed(Double(rss) / 1_048_576, 1))"
            line += " node_idle_rss_mb=\(fixed(Double(idleRSS) / 1_048_576, 1))"
            line += " rss_mb_per_stream=\(fixed(Double(rss - idleRSS) / 1_048_576 / Double(count), 3))"
            line += " peak_rss_mb_per_stream=\(fixed(Double(peakRSS - idleRSS) / 1_048_576 / Double(count), 3))"
            report(line)
            var detail = "ingest streams=\(count) sent_mbit_s=\(fixed(Double(sentAfter - sentBefore) * 8 / elapsed / 1e6, 1))"
            detail += " node_input_mbit_s=\(fixed(inputBits / 1e6, 1)) source_reconnects=\(reconnects)"
            detail += " node_idle_cpu_pct=\(fixed(idleCPU * 100, 1))"
            detail += " bench_cpu_pct=\(fixed((benchAfter - benchBefore) / elapsed * 100, 1))"
            detail += " node_threads=\(threadBreakdown(before: threadsBefore, after: threadsAfter, seconds: elapsed))"
            report(detail)
            counters.stopped.store(true, ordering: .relaxed)
            try? await sender?.close()
            await node.stop()
            if alive < count {
                throw BenchError("only \(alive) of \(count) streams alive at the end of the window; see \(node.logPath)")
            }
        } catch {
            counters.stopped.store(true, ordering: .relaxed)
            try? await sender?.close()
            await node.stop()
            throw error
        }
    }
}

/// The MPEG-TS file the ingest benchmark sends, and its real-time rate.
struct TestTransportStream: Sendable {
    var path: String
    var bytes: ByteBuffer
    var duration: Double

    var bytesPerSecond: Double { Double(bytes.readableBytes) / duration }

    /// Reads `path`, or makes (once) a 10 s 640x360 H.264 1900k + AAC file with ffmpeg.
    static func load(path: String?) async throws -> TestTransportStream {
        let file: String
        if let path {
            file = path
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-bench-cache")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            file = directory.appendingPathComponent("testsrc2-640x360-1900k-10s.ts").path
            if !FileManager.default.fileExists(atPath: file) {
                let partial = file + ".partial"
                let status = try await runTool(
                    "ffmpeg",
                    [
                        "-y", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi",
                        "-i", "sine", "-t", "10", "-c:v", "libx264", "-b:v", "1900k", "-g", "50", "-c:a", "aac", "-f", "mpegts", partial,
                    ], timeout: .seconds(120)
                ).status
                guard status == 0 else { throw BenchError("ffmpeg failed (status \(status)) making \(file)") }
                try FileManager.default.moveItem(atPath: partial, toPath: file)
            }
        }
        guard let data = FileManager.default.contents(atPath: file), data.count >= 188 * 7 else {
            throw BenchError("cannot read the MPEG-TS file \(file)")
        }
        let probe = try? await runTool(
            "ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", file], timeout: .seconds(30))
        let duration = probe.flatMap { Double($0.output.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 10
        // Whole TS packets only, so a loop never splits one.
        let usable = data.count / 188 * 188
        return TestTransportStream(path: file, bytes: ByteBuffer(bytes: data.prefix(usable)), duration: duration)
    }
}

/// Runs a tool found on PATH, bounded by `timeout`; returns its status and standard output.
func runTool(_ name: String, _ arguments: [String], timeout: Duration) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [name] + arguments
    let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-bench-\(getpid())-\(name).out").path
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    guard let output = FileHandle(forWritingAtPath: outputPath) else { throw BenchError("cannot write \(outputPath)") }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    do {
        try process.run()
    } catch {
        throw BenchError("cannot run \(name): \(error)")
    }
    let deadline = ContinuousClock.now + timeout
    while process.isRunning, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(50))
    }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        throw BenchError("\(name) did not finish within \(timeout)")
    }
    try? output.close()
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return (process.terminationStatus, text)
}
