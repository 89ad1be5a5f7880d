import EstuaryMedia
import NIOCore
import NIOPosix

/// `udp://[@]host:port`: receives MPEG-TS datagrams, unicast or multicast (`@group:port`
/// joins the group). The socket stays bound while the source runs; silence is handled by the
/// supervisor's `source_timeout`.
public struct UDPTSSource: MediaSource {
    public let displayURL: String
    let bindHost: String
    let port: Int
    let multicastGroup: String?
    let group: any EventLoopGroup

    public init(url: String, displayURL: String, group: any EventLoopGroup) throws(SourceError) {
        let parsed = try InputURL(parsing: url)
        guard let port = parsed.port else { throw .invalidURL(displayURL, reason: "missing port") }
        self.displayURL = displayURL
        self.port = port
        self.group = group
        let host = parsed.host.isEmpty ? "0.0.0.0" : parsed.host
        // "@" (empty user-info) marks a group to join, as in udp://@239.0.0.1:1234.
        let firstOctet = Int(host.split(separator: ".").first ?? "") ?? 0
        if (224...239).contains(firstOctet) {
            self.multicastGroup = host
            self.bindHost = "0.0.0.0"
        } else {
            self.multicastGroup = nil
            self.bindHost = host
        }
    }

    public func run(into sink: some MediaSink) async throws {
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                // One datagram per read: at a few hundred datagrams a second per socket a read
                // rarely finds more, and a vector read would hand out a large buffer each time.
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
                // One receive per readiness event. The socket is polled level-triggered, so a second datagram
                // already queued is picked up on the loop's next turn; with more reads per event, nearly every
                // event ended in a receive that found nothing (two system calls per datagram, measured).
                .channelOption(.maxMessagesPerRead, value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPTSHandler(sink: sink))
                    }
                }
                .bind(host: bindHost, port: port).get()
            if let multicastGroup, let multicast = channel as? any MulticastChannel {
                try await multicast.joinGroup(try SocketAddress(ipAddress: multicastGroup, port: port)).get()
            }
        } catch {
            throw SourceError.connectionFailed(url: displayURL, reason: "cannot bind UDP \(bindHost):\(port): \(error)")
        }
        // The handler feeds the sink on the event loop; this task only holds the socket open.
        await withTaskCancellationHandler {
            try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}

/// Feeds each datagram through the MPEG-TS demuxer into the sink, on the channel's event loop:
/// no hop to another task per datagram. The demuxer state is confined to that loop.
final class UDPTSHandler<Sink: MediaSink>: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let sink: Sink
    private var feeder = TSFeeder()

    init(sink: Sink) { self.sink = sink }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        feeder.feed(unwrapInboundIn(data).data, into: sink)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A failed receive (e.g. ICMP errors on a connected socket) is not fatal for a listener.
        sink.inputError("UDP receive error: \(error)")
    }
}
