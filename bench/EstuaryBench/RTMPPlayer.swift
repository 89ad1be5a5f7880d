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
    /// C0 + C1 as the client sends them, and S0 + S1 + S2 as the server answers.
    static let helloSize = 1 + 1536
    static let answerSize = 1 + 2 * 1536

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
        var hello = context.channel.allocator.buffer(capacity: Self.helloSize)
        hello.writeInteger(UInt8(3))
        hello.writeRepeatingByte(0, count: Self.helloSize - 1)
        context.writeAndFlush(wrapOutboundOut(hello), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if !playing {
            handshake.writeBuffer(&buffer)
            guard handshake.readableBytes >= Self.answerSize, let s1 = handshake.getSlice(at: handshake.readerIndex + 1, length: 1536)
            else { return }
            playing = true
            var out = context.channel.allocator.buffer(capacity: 2048)
            out.writeImmutableBuffer(s1)  // C2 echoes S1
            encodePlay(into: &out)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            handshake.moveReaderIndex(forwardBy: Self.answerSize)
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
            var payload = ByteBuffer()
            for value in values { value.encode(into: &payload) }
            encoder.encode(RTMPMessage(typeID: 20, streamID: stream, timestamp: 0, payload: payload), chunkStream: 3, into: &out)
        }
        command([.string("connect"), .number(1), .object([.init("app", .string(app))])])
        command([.string("createStream"), .number(2), .null])
        command([.string("play"), .number(3), .null, .string(name)], stream: 1)
    }
}
