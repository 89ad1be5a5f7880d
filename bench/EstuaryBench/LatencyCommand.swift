import ArgumentParser
import EstuaryMP4
import EstuaryMedia
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// `latency`: node A runs a fake stream, node B relays it over M4F; the bench reads B's M4F and
/// measures, for every fragment, now − the UTC time its first frame entered node A.
struct LatencyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "Glass-to-glass latency through two nodes (fake → A → M4F → B → reader): p50/p90/p99/max in ms.")

    @Option(help: "Measuring window, seconds.")
    var seconds = 20

    @Option(help: "Seconds of reading before the window (the first fragments are the GOP cache, old by design).")
    var warmup = 4

    @OptionGroup var node: NodeBinaryOptions

    func run() async throws {
        ProcFS.raiseOpenFilesLimit()
        SpawnedNodes.shared.installSignalHandlers()
        let binary = try node.resolvedNodeBinary()
        let scratch = try ScratchDirectory(prefix: "latency")
        var nodes: [NodeProcess] = []
        var channels: [any Channel] = []
        do {
            let origin = try NodeProcess(
                label: "latency-a", binary: binary,
                yaml: "streams:\n  - name: bench\n    inputs: [{url: \"fake://bench\"}]\n", directory: scratch.url)
            nodes.append(origin)
            try await origin.waitServing(["bench"])
            let relay = try NodeProcess(
                label: "latency-b", binary: binary,
                yaml: "streams:\n  - name: relay\n    inputs: [{url: \"m4f://127.0.0.1:\(origin.port)/bench\"}]\n", directory: scratch.url)
            nodes.append(relay)
            try await relay.waitServing(["relay"])

            let viaRelay = LatencyRecorder()
            let direct = LatencyRecorder()
            channels.append(try await LatencyReader.connect(port: relay.port, path: "/relay/m4f", recorder: viaRelay))
            channels.append(try await LatencyReader.connect(port: origin.port, path: "/bench/m4f", recorder: direct))
            try await Task.sleep(for: .seconds(warmup))
            viaRelay.setRecording(true)
            direct.setRecording(true)
            let start = ContinuousClock.now
            try await Task.sleep(for: .seconds(seconds))
            viaRelay.setRecording(false)
            direct.setRecording(false)
            let elapsed = elapsedSeconds(ContinuousClock.now - start)

            let relayLine = viaRelay.summary(label: "latency path=A->B->reader", seconds: elapsed)
            report(relayLine.text)
            report(direct.summary(label: "latency path=A->reader", seconds: elapsed).text)
            for channel in channels { try? await channel.close() }
            for process in nodes.reversed() { await process.stop() }
            scratch.remove(keep: node.keepFiles)
            if !relayLine.ok { throw ExitCode(1) }
        } catch {
            for channel in channels { try? await channel.close() }
            for process in nodes.reversed() { await process.stop() }
            scratch.remove(keep: true)
            throw error
        }
    }
}

/// Latency samples of one reader, kept only while recording.
final class LatencyRecorder: Sendable {
    struct State {
        var recording = false
        var latencies: [Double] = []
        var spans: [Double] = []
        var fragments = 0
        var bytes = 0
        var errors = 0
        var status: Int?
        var lastError: String?
    }

    let state = Mutex(State())

    func setRecording(_ on: Bool) { state.withLock { $0.recording = on } }

    func record(latencyMillis: Double, spanMillis: Double) {
        state.withLock { state in
            guard state.recording else { return }
            state.latencies.append(latencyMillis)
            state.spans.append(spanMillis)
        }
    }

    func count(bytes: Int) {
        state.withLock { state in
            if state.recording { state.bytes += bytes }
        }
    }

    func fail(_ message: String) {
        state.withLock { state in
            state.errors += 1
            state.lastError = message
        }
    }

    func setStatus(_ status: Int) { state.withLock { $0.status = status } }

    /// The report line; `ok` is false when nothing was measured.
    func summary(label: String, seconds: Double) -> (text: String, ok: Bool) {
        let snapshot = state.withLock { $0 }
        let sorted = snapshot.latencies.sorted()
        guard !sorted.isEmpty else {
            let reason = snapshot.lastError ?? (snapshot.status.map { "HTTP \($0)" } ?? "no fragment")
            return ("\(label) fragments=0 error=\"\(reason)\"", false)
        }
        func percentile(_ p: Double, of values: [Double]? = nil) -> Double {
            let values = values ?? sorted
            return values[min(values.count - 1, max(0, Int((Double(values.count) * p).rounded(.up)) - 1))]
        }
        let meanSpan = snapshot.spans.reduce(0, +) / Double(snapshot.spans.count)
        // After the fragment's last frame: the part of the latency that is not fragment duration.
        let transit = zip(snapshot.latencies, snapshot.spans).map { $0 - $1 }.sorted()
        var text = "\(label) fragments=\(sorted.count) seconds=\(fixed(seconds, 1))"
        text += " p50_ms=\(fixed(percentile(0.50), 1)) p90_ms=\(fixed(percentile(0.90), 1))"
        text += " p99_ms=\(fixed(percentile(0.99), 1)) max_ms=\(fixed(sorted.last ?? 0, 1))"
        text += " min_ms=\(fixed(sorted.first ?? 0, 1)) fragment_span_ms_avg=\(fixed(meanSpan, 1))"
        text += " after_last_frame_p50_ms=\(fixed(percentile(0.50, of: transit), 1))"
        text += " after_last_frame_p99_ms=\(fixed(percentile(0.99, of: transit), 1))"
        text += " mbit_s=\(fixed(Double(snapshot.bytes) * 8 / seconds / 1e6, 2)) reader_errors=\(snapshot.errors)"
        return (text, true)
    }
}

/// An M4F reader over HTTP/1.1 (NIOHTTP1 removes the chunked framing) that parses fragments
/// with `M4FReader` and records now − `wallClockMicros` the moment each fragment is whole.
final class LatencyReader: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let path: String
    let recorder: LatencyRecorder
    var reader = M4FReader()

    init(path: String, recorder: LatencyRecorder) {
        self.path = path
        self.recorder = recorder
    }

    static func connect(port: Int, path: String, recorder: LatencyRecorder) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(LatencyReader(path: path, recorder: recorder))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    func channelActive(context: ChannelHandlerContext) {
        sendGET(path, closing: false, context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            recorder.setStatus(Int(head.status.code))
        case .body(let bytes):
            let now = realtimeMicros()
            recorder.count(bytes: bytes.readableBytes)
            for event in reader.feed(bytes, arrivalMicros: now) {
                switch event {
                case .fragment(let fragment):
                    let last = fragment.frames.last?.wallClockMicros ?? fragment.wallClockMicros
                    recorder.record(
                        latencyMillis: Double(now - fragment.wallClockMicros) / 1000,
                        spanMillis: Double(last - fragment.wallClockMicros) / 1000)
                case .error(let error):
                    recorder.fail("\(error)")
                case .initialization:
                    break
                }
            }
        case .end:
            recorder.fail("the response ended")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        recorder.fail("\(error)")
        context.close(promise: nil)
    }
}

/// The UTC wall clock in microseconds (`CLOCK_REALTIME`), the clock `prft` carries.
func realtimeMicros() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}
