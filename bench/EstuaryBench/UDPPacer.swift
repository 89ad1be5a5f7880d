import NIOCore
import NIOPosix
import Synchronization

/// Counters a ``UDPPacer`` shares with the bench.
final class PacerCounters: Sendable {
    /// Bytes handed to the socket, all streams together.
    let bytes = Atomic<Int>(0)
    /// Datagrams handed to the socket.
    let datagrams = Atomic<Int>(0)
    /// Set to stop the pacer at its next tick.
    let stopped = Atomic<Bool>(false)
}

/// Sends one MPEG-TS file, looped, to many UDP ports of 127.0.0.1 at the file's real-time
/// rate: datagrams of 7 TS packets (1316 bytes), paced by a deadline-scheduled tick on one
/// event loop. Each tick writes every stream's due datagrams and flushes once, so NIO hands
/// them to the kernel in batches (`sendmmsg`). Streams start at spread-out offsets of the
/// file so that their keyframes do not all arrive at once.
final class UDPPacer {
    static let datagramSize = 7 * 188
    static let tick = TimeAmount.milliseconds(5)

    struct Stream {
        var address: SocketAddress
        var offset: Int
        var sent: Int
    }

    let channel: any Channel
    let file: ByteBuffer
    let bytesPerSecond: Double
    let counters: PacerCounters
    var streams: [Stream]
    let start: NIODeadline

    private init(channel: any Channel, file: ByteBuffer, bytesPerSecond: Double, ports: [Int], counters: PacerCounters) throws {
        self.channel = channel
        self.file = file
        self.bytesPerSecond = bytesPerSecond
        self.counters = counters
        let packets = file.readableBytes / 188
        self.streams = try ports.enumerated().map { index, port in
            let offset = packets * index / max(1, ports.count) * 188
            return Stream(address: try SocketAddress(ipAddress: "127.0.0.1", port: port), offset: offset, sent: 0)
        }
        self.start = .now()
    }

    /// Binds a UDP socket on 127.0.0.1 and starts pacing; stop with `counters.stopped`.
    static func start(
        file: ByteBuffer, bytesPerSecond: Double, ports: [Int], counters: PacerCounters, group: any EventLoopGroup
    ) async throws -> any Channel {
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_sndbuf), value: 8 << 20)
            .bind(host: "127.0.0.1", port: 0).get()
        try await channel.eventLoop.submit {
            let pacer = try UDPPacer(channel: channel, file: file, bytesPerSecond: bytesPerSecond, ports: ports, counters: counters)
            pacer.run()
        }.get()
        return channel
    }

    private func run() {
        guard !counters.stopped.load(ordering: .relaxed), channel.isActive else { return }
        let now = NIODeadline.now()
        let due = Int(bytesPerSecond * Double((now - start).nanoseconds) / 1e9)
        var bytes = 0
        var datagrams = 0
        for index in streams.indices {
            while streams[index].sent < due {
                let length = min(Self.datagramSize, file.readableBytes - streams[index].offset)
                let slice = file.getSlice(at: file.readerIndex + streams[index].offset, length: length)!
                channel.write(AddressedEnvelope(remoteAddress: streams[index].address, data: slice), promise: nil)
                streams[index].sent += length
                streams[index].offset = (streams[index].offset + length) % file.readableBytes
                bytes += length
                datagrams += 1
            }
        }
        if datagrams > 0 {
            channel.flush()
            counters.bytes.add(bytes, ordering: .relaxed)
            counters.datagrams.add(datagrams, ordering: .relaxed)
        }
        // The next tick by deadline, so the period does not stretch by the tick's own work.
        let ticks = (now - start).nanoseconds / Self.tick.nanoseconds + 1
        let next = start + .nanoseconds(ticks * Self.tick.nanoseconds)
        channel.eventLoop.assumeIsolated().scheduleTask(deadline: next) { self.run() }
    }
}
