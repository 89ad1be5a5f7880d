import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// `dvr-serve`: N readers fetching archive exports (`.mp4`, `.m4f`) or archive HLS segments over and over from a
/// dvr-node: delivered Gbit/s and node CPU-s per Gbit.
struct DVRServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dvr-serve",
        abstract: "N readers downloading archive .mp4 exports and HLS segments in a loop: Gbit/s and node CPU-s per Gbit.")

    @Option(help: "Concurrent readers.") var readers = 100
    @Option(help: "Measuring window per mode, seconds.") var seconds = 15
    @Option(help: "Seconds of archive to record first.") var record = 30
    @Option(help: "nginx binary that serves the same segment files side by side (skipped when it is not there).")
    var nginx = "/usr/sbin/nginx"
    @OptionGroup var node: NodeBinaryOptions

    func run() async throws {
        ProcFS.raiseOpenFilesLimit()
        SpawnedNodes.shared.installSignalHandlers()
        let binary = try node.resolvedNodeBinary("dvr-node")
        let scratch = try ScratchDirectory(prefix: "dvr-serve")
        let root = scratch.url.appendingPathComponent("storage").path
        let yaml = "streams:\n  - {name: cam, inputs: [{url: \"fake://cam\"}], dvr: {root: \(root)}}\n"
        let node = try NodeProcess(label: "dvr-serve", binary: binary, yaml: yaml, directory: scratch.url)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await node.waitHealthy()
            try await Task.sleep(for: .seconds(record + 6))
            let segments = try await segmentStarts(port: node.port)
            guard segments.count >= 4 else { throw BenchError("only \(segments.count) segments recorded") }
            let from = segments[0] / 1000 + 1
            let duration = (segments.last! - segments[0]) / 1000 - 1
            let served = Array(segments.dropLast())

            // nginx first, on the very files the archive holds: the issue's target is relative to it, and this
            // machine's speed drifts from day to day.
            // Three nginx windows: the segment files one per connection, the same on kept-alive connections, and the
            // `.m4f` export saved as one file (as big as an export download) one per connection.
            var nginxCost: [String: Double] = [:]
            if FileManager.default.isExecutableFile(atPath: nginx) {
                let files = try segmentFiles(root: root, stream: "cam", starts: Set(served))
                let export = try await HTTPGet.fetch(port: node.port, path: "/cam/archive-\(from)-\(duration).m4f", timeout: .seconds(30))
                guard export.status == 200 else { throw BenchError("the .m4f export answered \(export.status)") }
                try Data(export.body.readableBytesView).write(to: URL(fileURLWithPath: "\(root)/cam-export.m4f"))
                let server = try startNginx(root: root, directory: scratch.url)
                do {
                    try await server.waitHealthy()
                    for (mode, paths, keepAlive) in [
                        ("nginx_segments", files, false), ("nginx_segments_keepalive", files, true),
                        ("nginx_export", ["/cam-export.m4f"], false),
                    ] {
                        let cpuBefore = server.cpuSeconds
                        let (elapsed, gbits) = await download(port: server.port, paths: paths, keepAlive: keepAlive, group: group)
                        let cpu = server.cpuSeconds - cpuBefore
                        nginxCost[mode] = cpu / max(gbits, 1e-9)
                        report(
                            "dvr-serve mode=\(mode) readers=\(readers) seconds=\(fixed(elapsed, 1)) gbit_s=\(fixed(gbits / elapsed, 3)) "
                                + "nginx_cpu_pct=\(fixed(cpu * 100 / elapsed, 1)) nginx_cpu_s_per_gbit=\(fixed(cpu / max(gbits, 1e-9), 4))")
                    }
                    await server.stop(grace: .seconds(2))
                } catch {
                    await server.stop(grace: .seconds(2))
                    throw error
                }
            } else {
                note("\(nginx) is not there: the figures are compared with the nginx anchor of 0.014 CPU-s/Gbit")
            }

            // Recording goes on during the windows: measure its own cost first, and subtract it.
            let idleBefore = node.cpuSeconds
            try await Task.sleep(for: .seconds(5))
            let idlePerSecond = (node.cpuSeconds - idleBefore) / 5
            let hlsPaths = served.map { "/cam/archive/seg-\($0).m4s" }
            // Each mode is compared with nginx fetching the same bytes the same way (the last element).
            let modes: [(name: String, paths: [String], keepAlive: Bool, nginx: String)] = [
                ("mp4", ["/cam/archive-\(from)-\(duration).mp4"], false, "nginx_export"),
                ("hls_segments", hlsPaths, false, "nginx_segments"),
                // As players fetch them: segment after segment on one kept-alive connection.
                ("hls_segments_keepalive", hlsPaths, true, "nginx_segments_keepalive"),
                // The replication export: the stored files, sent with sendfile.
                ("m4f", ["/cam/archive-\(from)-\(duration).m4f"], false, "nginx_export"),
            ]
            for mode in modes {
                let cpuBefore = node.cpuSeconds
                let (elapsed, gbits) = await download(port: node.port, paths: mode.paths, keepAlive: mode.keepAlive, group: group)
                let cpu = node.cpuSeconds - cpuBefore - idlePerSecond * elapsed
                let cost = cpu / max(gbits, 1e-9)
                let anchor = nginxCost[mode.nginx]
                let comparison =
                    anchor.map {
                        "nginx_cpu_s_per_gbit=\(fixed($0, 4)) vs_nginx=\(fixed(cost / $0, 2)) target=2x_nginx \(cost <= 2 * $0 ? "MET" : "MISSED")"
                    }
                    ?? "nginx_anchor=0.014 target=0.028 \(cost <= 0.028 ? "MET" : "MISSED")"
                report(
                    "dvr-serve mode=\(mode.name) readers=\(readers) seconds=\(fixed(elapsed, 1)) gbit_s=\(fixed(gbits / elapsed, 3)) "
                        + "node_cpu_pct=\(fixed(cpu * 100 / elapsed, 1)) node_cpu_s_per_gbit=\(fixed(cost, 4)) \(comparison)")
            }
            await node.stop()
        } catch {
            await node.stop()
            try? await group.shutdownGracefully()
            scratch.remove(keep: true)
            throw error
        }
        try? await group.shutdownGracefully()
        scratch.remove(keep: self.node.keepFiles)
    }

    /// `readers` clients fetching `paths` in turn for `seconds`, each request on a new connection (`Connection:
    /// close`) or all on one kept-alive connection per reader: the window's length and the Gbit delivered.
    private func download(port: Int, paths: [String], keepAlive: Bool, group: any EventLoopGroup) async -> (Double, Double) {
        let counters = FanoutCounters()
        let began = ContinuousClock.now
        let seconds = self.seconds
        await withTaskGroup(of: Void.self) { tasks in
            for index in 0..<readers {
                tasks.addTask {
                    if keepAlive {
                        // A connection that fails delivers fewer bytes: the figure shows it.
                        try? await KeepAliveDownload.fetch(port: port, paths: paths, first: index, group: group, counters: counters)
                        return
                    }
                    var request = index
                    while !counters.benchClosing.load(ordering: .relaxed) {
                        let path = paths[request % paths.count]
                        request += 1
                        let received = (try? await Download.fetch(port: port, path: path, group: group)) ?? 0
                        counters.bytes.add(received, ordering: .relaxed)
                    }
                }
            }
            tasks.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                counters.benchClosing.store(true, ordering: .relaxed)
            }
        }
        return (elapsedSeconds(.now - began), Double(counters.bytes.load(ordering: .relaxed)) * 8 / 1e9)
    }

    /// The segment files of `stream` under `root` whose start is in `starts`, as URL paths below `root`.
    private func segmentFiles(root: String, stream: String, starts: Set<Int64>) throws -> [String] {
        let directory = "\(root)/\(stream)"
        let names = (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String]) ?? []
        let files = names.filter { name in
            name.hasSuffix(".m4s") && Int64(name.split(separator: "/").last?.split(separator: "-").first ?? "").map(starts.contains) == true
        }.sorted()
        guard files.count == starts.count else { throw BenchError("found \(files.count) segment files for \(starts.count) segments") }
        return files.map { "/\(stream)/\($0)" }
    }

    /// nginx serving `root` statically with sendfile, as its packages ship it.
    private func startNginx(root: String, directory: URL) throws -> NodeProcess {
        try NginxProcess.start(
            label: "nginx", binary: nginx, directory: directory,
            http: "sendfile on; tcp_nopush on; keepalive_requests 1000000; default_type application/octet-stream;",
            server: "root \(root);", listen: "backlog=4096")
    }

    private func segmentStarts(port: Int) async throws -> [Int64] {
        let response = try await HTTPGet.fetch(port: port, path: "/streamer/api/v3/streams/cam/dvr/segments", timeout: .seconds(10))
        struct Body: Decodable {
            struct Segment: Decodable {
                var startMs: Int64
                enum CodingKeys: String, CodingKey { case startMs = "start_ms" }
            }
            var segments: [Segment]
        }
        return try JSONDecoder().decode(Body.self, from: Data(response.body.readableBytesView)).segments.map(\.startMs)
    }
}

/// `GET`s one after another on one kept-alive connection (each response read to its `Content-Length`), until the
/// bench closes; adds each response's bytes to the counters as they arrive.
enum KeepAliveDownload {
    static func fetch(port: Int, paths: [String], first: Int, group: any EventLoopGroup, counters: FanoutCounters) async throws {
        let loop = group.next()
        let promise = loop.makePromise(of: Void.self)
        let channel = try await Download.connect(port: port, loop: loop) {
            Handler(paths: paths, next: first, counters: counters, promise: promise)
        }
        let timer = loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            if counters.benchClosing.load(ordering: .relaxed) { channel.close(promise: nil) }
        }
        defer { timer.cancel() }
        try await promise.futureResult.get()
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let paths: [String]
        var next: Int
        let counters: FanoutCounters
        let promise: EventLoopPromise<Void>
        /// The response head read so far, while it is incomplete.
        var head = ByteBuffer()
        /// Body bytes still due for the response in progress (nil while reading its head).
        var remaining: Int?

        init(paths: [String], next: Int, counters: FanoutCounters, promise: EventLoopPromise<Void>) {
            self.paths = paths
            self.next = next
            self.counters = counters
            self.promise = promise
        }

        func channelActive(context: ChannelHandlerContext) { request(context) }

        private func request(_ context: ChannelHandlerContext) {
            let path = paths[next % paths.count]
            next += 1
            remaining = nil
            head.clear()
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            counters.bytes.add(bytes.readableBytes, ordering: .relaxed)
            while bytes.readableBytes > 0 {
                if let due = remaining {
                    let taken = min(due, bytes.readableBytes)
                    bytes.moveReaderIndex(forwardBy: taken)
                    remaining = due - taken
                    if due - taken == 0 { request(context) }
                    continue
                }
                head.writeBuffer(&bytes)
                // The head is ASCII and short: look for its end in the first 4 KB only.
                let text = String(buffer: head.getSlice(at: head.readerIndex, length: min(head.readableBytes, 4096)) ?? head)
                guard let end = text.range(of: "\r\n\r\n") else { return }
                let headText = text[..<end.lowerBound].lowercased()
                guard headText.hasPrefix("http/1.1 200"),
                    let line = headText.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                    let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                else {
                    context.close(promise: nil)
                    return
                }
                let headBytes = text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound)
                var rest = head
                rest.moveReaderIndex(forwardBy: headBytes)
                remaining = length
                head.clear()
                bytes = rest
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.succeed(())
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// One `GET` with `Connection: close`, counting the bytes received without keeping them.
enum Download {
    /// A connection to 127.0.0.1:`port` on `loop` whose pipeline holds the one handler `makeHandler` makes.
    static func connect(
        port: Int, loop: any EventLoop, makeHandler: @escaping @Sendable () -> some ChannelInboundHandler
    ) async throws -> any Channel {
        try await ClientBootstrap(group: loop)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(makeHandler()) }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    static func fetch(port: Int, path: String, group: any EventLoopGroup) async throws -> Int {
        let loop = group.next()
        let promise = loop.makePromise(of: Int.self)
        let channel = try await connect(port: port, loop: loop) { ByteCounter(path: path, promise: promise) }
        let timer = loop.scheduleTask(in: .seconds(60)) { channel.close(promise: nil) }
        defer { timer.cancel() }
        return try await promise.futureResult.get()
    }

    final class ByteCounter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let path: String
        let promise: EventLoopPromise<Int>
        var count = 0

        init(path: String, promise: EventLoopPromise<Int>) {
            self.path = path
            self.promise = promise
        }

        func channelActive(context: ChannelHandlerContext) {
            let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            count += unwrapInboundIn(data).readableBytes
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.succeed(count)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
