import EstuaryRTMP
import NIOCore
import NIOPosix
import Synchronization

/// A light RTMP player, the nginx-rtmp side of the fan-out comparison: shakes hands, sends connect, createStream
/// and play in one write, then counts the bytes that arrive without parsing them. It sends no acknowledgements
/// (nginx-rtmp does not wait for them), so it costs the server what the bench's M4F readers cost the node.
final class RTMPPlayer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Bytes after the handshake that mark a player as served: more than the replies to its commands, so
    /// media is flowing.
    static let servedAfter = 32 * 1024
    let app: String
    let name: String
    let counters: FanoutCounters
    private var handshake = ByteBuffer()
    private var playing = false
    private var received = 0

    init(app: String, name: String, counters: FanoutCounters) {
        self.app = app
        self.name = name
        self.counters = counters
    }

    /// Connects one player to `rtmp://127.0.0.1:port/APP/NAME`.
    static func connect(
        port: Int, app: String, name: String, counters: FanoutCounters, group: MultiThreadedEventLoopGroup
    ) async throws -> any Channel {
        try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RTMPPlayer(app: app, name: name, counters: counters))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(RTMPClient.hello(allocator: context.channel.allocator)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if !playing {
            handshake.writeBuffer(&buffer)
            guard let c2 = RTMPClient.c2(answeringFrom: handshake) else { return }
            playing = true
            var out = context.channel.allocator.buffer(capacity: 2048)
            out.writeImmutableBuffer(c2)
            encodePlay(into: &out)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            handshake.moveReaderIndex(forwardBy: RTMPClient.answerSize)
            buffer = handshake
            handshake = ByteBuffer()
        }
        let before = received
        received += buffer.readableBytes
        counters.bytes.add(buffer.readableBytes, ordering: .relaxed)
        if before < Self.servedAfter, received >= Self.servedAfter { counters.answered.add(1, ordering: .relaxed) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !counters.benchClosing.load(ordering: .relaxed) { counters.closed.add(1, ordering: .relaxed) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func encodePlay(into out: inout ByteBuffer) {
        let encoder = RTMPChunkEncoder()
        func command(_ values: [AMF0Value], stream: UInt32 = 0) {
            RTMPClient.command(values, stream: stream, encoder: encoder, into: &out)
        }
        command([.string("connect"), .number(1), .object([.init("app", .string(app))])])
        command([.string("createStream"), .number(2), .null])
        command([.string("play"), .number(3), .null, .string(name)], stream: 1)
    }
}
