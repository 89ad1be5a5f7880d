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
        let channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
        do {
            channel = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                // The receive buffer is split across the 32 messages of one vector read: 2 KiB each.
                .channelOption(.datagramVectorReadMessageCount, value: 32)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
                .bind(host: bindHost, port: port) { channel in
                    let joined: EventLoopFuture<Void>
                    if let multicastGroup, let multicast = channel as? any MulticastChannel {
                        do {
                            joined = multicast.joinGroup(try SocketAddress(ipAddress: multicastGroup, port: port))
                        } catch {
                            joined = channel.eventLoop.makeFailedFuture(error)
                        }
                    } else {
                        joined = channel.eventLoop.makeSucceededVoidFuture()
                    }
                    return joined.flatMapThrowing {
                        try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SourceError.connectionFailed(url: displayURL, reason: "cannot bind UDP \(bindHost):\(port): \(error)")
        }
        var feeder = TSFeeder()
        try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, _ in
                for try await envelope in inbound {
                    feeder.feed(envelope.data, into: sink)
                }
            }
        } onCancel: {
            channel.channel.close(promise: nil)
        }
    }
}
