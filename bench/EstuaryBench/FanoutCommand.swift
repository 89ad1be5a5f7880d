import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// `fanout`: one fake stream, N light M4F readers; delivered Gbit/s and the node's CPU per Gbit.
struct FanoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "One fake stream read by N raw M4F readers: delivered Gbit/s, node CPU-s per Gbit, node RSS.")

    @Option(help: "Reader counts, one node run each.")
    var readers = CountList([100, 500, 1000])

    @Option(help: "Measuring window per run, seconds.")
    var seconds = 20

    @Option(help: "Seconds between all readers connected and the start of the window.")
    var warmup = 3

    @Option(help: "Event-loop threads of the bench's readers (the node shares the machine).")
    var clientThreads = 1

    @OptionGroup var node: NodeBinaryOptions

    func run() async throws {
        let openFiles = ProcFS.raiseOpenFilesLimit()
        // The bench and the node each hold one socket per reader; keep both under the limit.
        let maximumReaders = min(openFiles, 20_000) / 2 - 200
        guard let largest = readers.values.max(), largest <= maximumReaders else {
            throw ValidationError("at most \(maximumReaders) readers: the bench and the node each need one socket per reader")
        }
        SpawnedNodes.shared.installSignalHandlers()
        let binary = try node.resolvedNodeBinary()
        let scratch = try ScratchDirectory(prefix: "fanout")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, clientThreads))
        var failed = false
        for count in readers.values {
            do {
                try await runOnce(readers: count, binary: binary, scratch: scratch, group: group)
            } catch {
                failed = true
                report("fanout readers=\(count) error=\"\(error)\"")
            }
        }
        try await group.shutdownGracefully()
        scratch.remove(keep: node.keepFiles || failed)
        if failed { throw ExitCode(1) }
    }

    private func runOnce(readers count: Int, binary: String, scratch: ScratchDirectory, group: MultiThreadedEventLoopGroup) async throws {
        // Every reader comes from 127.0.0.1: lift the per-IP cap (200 by default) above the reader count.
        let yaml = """
            client_limits: {connections: \(count + 1000), connections_per_ip: \(count + 100)}
            streams:
              - name: bench
                inputs: [{url: "fake://bench"}]

            """
        let node = try NodeProcess(label: "fanout-\(count)", binary: binary, yaml: yaml, directory: scratch.url)
        let counters = FanoutCounters()
        var channels: [any Channel] = []
        do {
            try await node.waitServing(["bench"])
            let idleRSS = node.residentBytes
            channels = try await connectReaders(count: count, port: node.port, counters: counters, group: group)
            // Every reader must have its response head before the window opens.
            let connectDeadline = ContinuousClock.now + .seconds(30)
            while counters.answered.load(ordering: .relaxed) < count, ContinuousClock.now < connectDeadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            let answered = counters.answered.load(ordering: .relaxed)
            guard answered == count else {
                let rejected = counters.rejected.load(ordering: .relaxed)
                throw BenchError("only \(answered) of \(count) readers got a response within 30 s (\(rejected) not 200)")
            }
            try await Task.sleep(for: .seconds(warmup))

            let inputBefore = try await node.stream("bench").stats.bytesIn
            let start = ContinuousClock.now
            let bytesBefore = counters.bytes.load(ordering: .relaxed)
            let cpuBefore = node.cpuSeconds
            let benchBefore = ProcFS.selfCPUSeconds()
            let threadsBefore = node.threadCPUSeconds
            var peakRSS = node.residentBytes
            let end = start + .seconds(seconds)
            while ContinuousClock.now < end {
                try await Task.sleep(until: min(end, ContinuousClock.now + .seconds(1)))
                peakRSS = max(peakRSS, node.residentBytes)
            }
            let bytesAfter = counters.bytes.load(ordering: .relaxed)
            let cpuAfter = node.cpuSeconds
            let benchAfter = ProcFS.selfCPUSeconds()
            let threadsAfter = node.threadCPUSeconds
            let elapsed = elapsedSeconds(ContinuousClock.now - start)
            let rss = node.residentBytes

            let stats = try await node.stream("bench").stats
            let gigabits = Double(bytesAfter - bytesBefore) * 8 / 1e9
            let nodeCPU = cpuAfter - cpuBefore
            // Media bytes the stream took in over the window (bytes_in is cumulative).
            let inputBits = (Double(stats.bytesIn) - Double(inputBefore)) * 8 / elapsed
            let perReader = gigabits * 1e9 / elapsed / Double(count)
            var line = "fanout readers=\(count) seconds=\(fixed(elapsed, 1))"
            line += " gbit_s=\(fixed(gigabits / elapsed, 3))"
            line += " node_cpu_pct=\(fixed(nodeCPU / elapsed * 100, 1))"
            line += " node_cpu_s_per_gbit=\(gigabits > 0 ? fixed(nodeCPU / gigabits, 4) : "n/a")"
            line += " node_rss_mb=\(fixed(Double(rss) / 1_048_576, 1))"
            line += " node_peak_rss_mb=\(fixed(Double(peakRSS) / 1_048_576, 1))"
            line += " node_idle_rss_mb=\(fixed(Double(idleRSS) / 1_048_576, 1))"
            line += " bench_cpu_pct=\(fixed((benchAfter - benchBefore) / elapsed * 100, 1))"
            report(line)
            var detail = "fanout readers=\(count) per_reader_mbit_s=\(fixed(perReader / 1e6, 3))"
            detail += " input_mbit_s=\(fixed(inputBits / 1e6, 3))"
            detail += " per_reader_vs_input=\(inputBits > 0 ? fixed(perReader / inputBits, 3) : "n/a")"
            detail += " closed_by_node=\(counters.closed.load(ordering: .relaxed))"
            detail += " online_clients=\(stats.onlineClients) skipped_fragments=\(stats.skippedFragments)"
            detail += " disconnected_clients=\(stats.disconnectedClients)"
            detail += " node_threads=\(threadBreakdown(before: threadsBefore, after: threadsAfter, seconds: elapsed))"
            report(detail)
        } catch {
            counters.benchClosing.store(true, ordering: .relaxed)
            await close(channels)
            await node.stop()
            throw error
        }
        counters.benchClosing.store(true, ordering: .relaxed)
        await close(channels)
        await node.stop()
    }

    /// Opens `count` readers, at most 64 connection attempts in flight.
    private func connectReaders(
        count: Int, port: Int, counters: FanoutCounters, group: MultiThreadedEventLoopGroup
    ) async throws -> [any Channel] {
        return try await withThrowingTaskGroup(of: (any Channel).self) { tasks in
            var channels: [any Channel] = []
            var started = 0
            while started < min(64, count) {
                tasks.addTask { try await CountingReader.connect(port: port, counters: counters, group: group) }
                started += 1
            }
            while let channel = try await tasks.next() {
                channels.append(channel)
                if started < count {
                    tasks.addTask { try await CountingReader.connect(port: port, counters: counters, group: group) }
                    started += 1
                }
            }
            return channels
        }
    }

    private func close(_ channels: [any Channel]) async {
        for channel in channels {
            try? await channel.close()
        }
    }
}

/// What all readers received, counted without parsing.
final class FanoutCounters: Sendable {
    /// Bytes received by every reader, response head included.
    let bytes = Atomic<Int>(0)
    /// Readers whose first bytes arrived and began `HTTP/1.1 200`.
    let answered = Atomic<Int>(0)
    /// Readers whose first bytes were anything else.
    let rejected = Atomic<Int>(0)
    /// Readers whose connection closed before the bench closed it.
    let closed = Atomic<Int>(0)
    /// Set when the bench starts closing its readers.
    let benchClosing = Atomic<Bool>(false)
}

/// A raw TCP reader: sends `GET /bench/m4f` once and counts the bytes that arrive.
final class CountingReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let request = "GET /bench/m4f HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: estuary-bench\r\n\r\n"
    static let okPrefix = Array("HTTP/1.1 200".utf8)

    let counters: FanoutCounters
    var sawResponse = false

    init(counters: FanoutCounters) {
        self.counters = counters
    }

    /// Connects one reader to `127.0.0.1:port`.
    static func connect(port: Int, counters: FanoutCounters, group: MultiThreadedEventLoopGroup) async throws -> any Channel {
        try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CountingReader(counters: counters))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: Self.request)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if !sawResponse {
            sawResponse = true
            let prefix = buffer.getBytes(at: buffer.readerIndex, length: min(Self.okPrefix.count, buffer.readableBytes)) ?? []
            if prefix == Self.okPrefix {
                counters.answered.add(1, ordering: .relaxed)
            } else {
                counters.rejected.add(1, ordering: .relaxed)
            }
        }
        counters.bytes.add(buffer.readableBytes, ordering: .relaxed)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !counters.benchClosing.load(ordering: .relaxed) { counters.closed.add(1, ordering: .relaxed) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
