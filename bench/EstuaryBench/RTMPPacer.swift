import EstuaryRTMP
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// One FLV tag of the file the RTMP benchmark publishes.
struct FLVTag: Sendable {
    var type: UInt8
    var timestamp: UInt32
    var body: ByteBuffer

    /// The audio, video and script tags of an FLV file, in file order.
    static func read(_ data: [UInt8]) throws -> [FLVTag] {
        guard data.count > 13, data[0] == 0x46, data[1] == 0x4C, data[2] == 0x56 else { throw BenchError("not an FLV file") }
        var tags: [FLVTag] = []
        var offset = Int(data[5]) << 24 | Int(data[6]) << 16 | Int(data[7]) << 8 | Int(data[8])
        offset += 4
        while offset + 11 <= data.count {
            let type = data[offset] & 0x1F
            let size = Int(data[offset + 1]) << 16 | Int(data[offset + 2]) << 8 | Int(data[offset + 3])
            let timestamp =
                UInt32(data[offset + 7]) << 24 | UInt32(data[offset + 4]) << 16 | UInt32(data[offset + 5]) << 8 | UInt32(data[offset + 6])
            guard offset + 11 + size <= data.count else { break }
            if type == 8 || type == 9 || type == 18 {
                tags.append(FLVTag(type: type, timestamp: timestamp, body: ByteBuffer(bytes: data[(offset + 11)..<(offset + 11 + size)])))
            }
            offset += 11 + size + 4
        }
        return tags
    }

    /// The benchmarks' test clip as FLV (remuxed once with ffmpeg beside the MPEG-TS clip) and its tags.
    static func testClip() async throws -> (path: String, tags: [FLVTag]) {
        let source = try await TestTransportStream.load(path: nil)
        let flvPath = source.path.replacingOccurrences(of: ".ts", with: ".flv")
        if !FileManager.default.fileExists(atPath: flvPath) {
            let status = try await runTool(
                "ffmpeg", ["-y", "-nostdin", "-loglevel", "error", "-i", source.path, "-c", "copy", "-f", "flv", flvPath],
                timeout: .seconds(60)
            ).status
            guard status == 0 else { throw BenchError("ffmpeg could not make \(flvPath)") }
        }
        guard let data = FileManager.default.contents(atPath: flvPath) else { throw BenchError("cannot read \(flvPath)") }
        return (flvPath, try FLVTag.read([UInt8](data)))
    }
}

/// Many light RTMP publishers on one event loop: each connects, shakes hands, sends connect / createStream /
/// publish, then sends the FLV file's tags, looped with continuous timestamps, at their real-time pace. One
/// deadline-scheduled tick writes every publisher's due messages and flushes each once.
final class RTMPPacer {
    static let tick = TimeAmount.milliseconds(10)

    struct Publisher {
        var channel: any Channel
        var next: Int
        var loop: UInt32
        var firstTimestamp: UInt32
    }

    let tags: [FLVTag]
    let loopDuration: UInt32
    let counters: PacerCounters
    var publishers: [Publisher] = []
    var start = NIODeadline.now()
    let encoder = RTMPChunkEncoder(chunkSize: 4096)

    init(tags: [FLVTag], counters: PacerCounters) {
        self.tags = tags
        self.loopDuration = (tags.last?.timestamp ?? 0) + 40
        self.counters = counters
    }

    /// Connects `names.count` publishers to `rtmp://127.0.0.1:port/APP/NAME` and starts pacing them.
    static func start(
        tags: [FLVTag], port: Int, app: String, names: [String], counters: PacerCounters, loop: any EventLoop
    ) async throws
        -> RTMPPacer
    {
        let pacer = RTMPPacer(tags: tags, counters: counters)
        for (index, name) in names.enumerated() {
            let handshake = loop.makePromise(of: Void.self)
            let channel = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HandshakeHandler(done: handshake))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            try await handshake.futureResult.get()
            try await loop.submit {
                var out = ByteBuffer()
                pacer.encodeSetup(app: app, name: name, into: &out)
                channel.writeAndFlush(out, promise: nil)
                // Spread the publishers over the file so their keyframes do not all arrive at once.
                let first = tags.count * index / max(1, names.count)
                pacer.publishers.append(Publisher(channel: channel, next: first, loop: 0, firstTimestamp: tags[first].timestamp))
            }.get()
        }
        try await loop.submit {
            pacer.start = .now()
            pacer.run(on: loop)
        }.get()
        return pacer
    }

    private func encodeSetup(app: String, name: String, into out: inout ByteBuffer) {
        var size = ByteBuffer()
        size.writeInteger(UInt32(4096))
        RTMPChunkEncoder().encode(RTMPMessage(typeID: 1, streamID: 0, timestamp: 0, payload: size), chunkStream: 2, into: &out)
        func command(_ values: [AMF0Value], stream: UInt32 = 0) {
            RTMPClient.command(values, stream: stream, encoder: encoder, into: &out)
        }
        command([.string("connect"), .number(1), .object([.init("app", .string(app)), .init("type", .string("nonprivate"))])])
        command([.string("createStream"), .number(2), .null])
        command([.string("publish"), .number(3), .null, .string(name), .string("live")], stream: 1)
    }

    private func run(on loop: any EventLoop) {
        guard !counters.stopped.load(ordering: .relaxed) else {
            for publisher in publishers { publisher.channel.close(promise: nil) }
            return
        }
        let now = NIODeadline.now()
        let elapsedMs = UInt32(clamping: (now - start).nanoseconds / 1_000_000)
        var bytes = 0
        var messages = 0
        for index in publishers.indices {
            var publisher = publishers[index]
            var out = ByteBuffer()
            while true {
                let tag = tags[publisher.next]
                let timestamp = publisher.loop &* loopDuration &+ tag.timestamp
                // Each publisher's clock starts at the timestamp of the tag it started from.
                guard timestamp &- publisher.firstTimestamp <= elapsedMs else { break }
                encoder.encode(
                    RTMPMessage(typeID: tag.type, streamID: 1, timestamp: timestamp, payload: tag.body), chunkStream: tag.type == 8 ? 4 : 6,
                    into: &out)
                messages += 1
                publisher.next += 1
                if publisher.next == tags.count {
                    publisher.next = 0
                    publisher.loop += 1
                }
            }
            if out.readableBytes > 0, publisher.channel.isActive {
                bytes += out.readableBytes
                publisher.channel.writeAndFlush(out, promise: nil)
            }
            publishers[index] = publisher
        }
        counters.bytes.add(bytes, ordering: .relaxed)
        counters.datagrams.add(messages, ordering: .relaxed)
        let ticks = (now - start).nanoseconds / Self.tick.nanoseconds + 1
        loop.assumeIsolated().scheduleTask(deadline: start + .nanoseconds(ticks * Self.tick.nanoseconds)) { self.run(on: loop) }
    }
}

/// The client side of the plain RTMP handshake: sends C0+C1, waits for S0+S1+S2, answers C2 (a copy of S1).
private final class HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let done: EventLoopPromise<Void>
    var received = ByteBuffer()
    var finished = false

    init(done: EventLoopPromise<Void>) {
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(RTMPClient.hello(allocator: context.channel.allocator)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
        guard let c2 = RTMPClient.c2(answeringFrom: received) else { return }
        finished = true
        context.writeAndFlush(NIOAny(c2), promise: nil)
        done.succeed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !finished { done.fail(error) }
        context.close(promise: nil)
    }
}
