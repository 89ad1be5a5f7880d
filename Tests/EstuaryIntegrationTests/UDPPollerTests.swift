import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import EstuarySources

#if canImport(Glibc)
    import Glibc
#endif

extension IntegrationTests {
    /// The poller that reads every `udp://` input's socket on a tick: order, batches, quiet sockets, errors, removal.
    @Suite struct UDPPollerTests {
        /// A shared box of what a reader received (the reader itself lives on the poller's loop).
        final class Received: Sendable {
            let datagrams = Mutex<[(bytes: [UInt8], truncated: Bool)]>([])
            var count: Int { datagrams.withLock { $0.count } }
        }

        static func add(_ poller: UDPPoller, port: Int, into received: Received) async throws -> UDPPoller.Registration {
            try await poller.add(
                open: { () throws(UDPSocketError) in
                    try UDPSocket(address: UDPSocket.resolve("127.0.0.1", port: port), multicastGroup: nil)
                },
                makeReader: { ForwardingReader(socket: $0, received: received) })
        }

        /// Appends what its socket delivers to a shared box, in order.
        final class ForwardingReader: UDPPolledReader {
            let socket: UDPSocket
            let received: Received
            init(socket: UDPSocket, received: Received) {
                self.socket = socket
                self.received = received
            }
            func datagram(_ bytes: ByteBuffer, truncated: Bool) {
                received.datagrams.withLock { $0.append((Array(bytes.readableBytesView), truncated)) }
            }
        }

        static func sender() async throws -> any Channel {
            try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        }

        static func send(_ channel: any Channel, _ bytes: [UInt8], to port: Int) async throws {
            let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: bytes))).get()
        }

        /// Datagram `index` of socket `socket`: its numbers in the first bytes, the rest a pattern of them.
        static func datagram(socket: Int, index: Int, length: Int = 1316) -> [UInt8] {
            (0..<length).map { UInt8(truncatingIfNeeded: $0 < 2 ? (index >> (8 * $0)) : $0 == 2 ? socket : index &* 31 &+ $0) }
        }

        @Test func everySocketGetsItsDatagramsWholeAndInOrderAcrossBatchesAndTicks() async throws {
            let poller = UDPPoller(group: MultiThreadedEventLoopGroup.singleton)
            // Distinct ports: the kernel may hand out the same free port twice, and these sockets share ports.
            var ports: [Int] = []
            while ports.count < 4 {
                let port = try await freeUDPPort()
                if !ports.contains(port) { ports.append(port) }
            }
            let boxes = ports.map { _ in Received() }
            var registrations: [UDPPoller.Registration] = []
            for (port, box) in zip(ports, boxes) { registrations.append(try await Self.add(poller, port: port, into: box)) }
            let sender = try await Self.sender()
            defer { sender.close(promise: nil) }
            // Bursts below, at and above one receive's 32 datagrams, so that a socket is read several times in a tick
            // and across ticks; each burst waits until it arrived, and stays under what the smallest receive buffer
            // (416 KiB) holds.
            var sent = 0
            for burst in [1, 31, 32, 33, 100, 150] {
                for index in sent..<(sent + burst) {
                    for (socket, port) in ports.enumerated() {
                        try await Self.send(sender, Self.datagram(socket: socket, index: index), to: port)
                    }
                }
                sent += burst
                let expected = sent
                try await waitUntil("\(expected) datagrams on every socket", timeout: .seconds(20)) {
                    boxes.allSatisfy { $0.count >= expected }
                }
            }
            for (socket, box) in boxes.enumerated() {
                let received = box.datagrams.withLock { $0 }
                #expect(received.count == sent)
                for (index, datagram) in received.enumerated() {
                    #expect(!datagram.truncated)
                    #expect(datagram.bytes == Self.datagram(socket: socket, index: index), "socket \(socket) datagram \(index)")
                }
            }
            for registration in registrations { poller.remove(registration) }
            for registration in registrations { try await registration.ended.get() }
        }

        /// Runs `body` with one socket read by a new poller and a sender; removes the socket afterwards and waits until
        /// it is closed.
        static func withPolledSocket(
            _ body: (_ port: Int, _ received: Received, _ sender: any Channel) async throws -> Void
        )
            async throws
        {
            let poller = UDPPoller(group: MultiThreadedEventLoopGroup.singleton)
            let port = try await freeUDPPort()
            let box = Received()
            let registration = try await add(poller, port: port, into: box)
            let sender = try await sender()
            defer { sender.close(promise: nil) }
            do {
                try await body(port, box, sender)
            } catch {
                poller.remove(registration)
                throw error
            }
            poller.remove(registration)
            try await registration.ended.get()
        }

        @Test func aDatagramLongerThanASlotIsMarkedTruncatedAndTheNextArrivesWhole() async throws {
            try await Self.withPolledSocket { port, box, sender in
                let long = Self.datagram(socket: 0, index: 0, length: UDPSocket.slot + 500)
                let next = Self.datagram(socket: 0, index: 1, length: 188)
                try await Self.send(sender, long, to: port)
                try await Self.send(sender, next, to: port)
                try await waitUntil("both datagrams", timeout: .seconds(10)) { box.count >= 2 }
                let received = box.datagrams.withLock { $0 }
                #expect(received[0].truncated)
                #expect(received[0].bytes == Array(long.prefix(UDPSocket.slot)))
                #expect(!received[1].truncated)
                #expect(received[1].bytes == next)
            }
        }

        @Test func aQuietSocketIsStillReadAndARemovedOneIsClosed() async throws {
            var polledPort = 0
            try await Self.withPolledSocket { port, received, sender in
                polledPort = port
                // Quiet for longer than `quietAfter` ticks: the socket is read less often, but still read.
                // (A wait for time itself to pass: what is tested is that a socket quiet this long is still read.)
                try await Task.sleep(for: .nanoseconds(UDPPoller.interval.nanoseconds * Int64(UDPPoller.quietAfter * 2)))
                try await Self.send(sender, Self.datagram(socket: 0, index: 7), to: port)
                try await waitUntil("the datagram after the silence", timeout: .seconds(5)) { received.count == 1 }
            }
            // Removed and closed: the port can be bound again by a socket without SO_REUSEADDR.
            let rebound = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: polledPort).get()
            try await rebound.close()
        }

        @Test func aSourceThatCannotBindNamesTheAddressAndTheReason() async throws {
            let poller = UDPPoller(group: MultiThreadedEventLoopGroup.singleton)
            // 192.0.2.1 (TEST-NET-1) is no address of this machine: bind fails.
            let source = try UDPTSSource(url: "udp://192.0.2.1:1234", displayURL: "udp://192.0.2.1:1234", poller: poller)
            let error = await #expect(throws: SourceError.self) { try await source.run(into: DiscardingSink()) }
            let text = error.map { "\($0)" } ?? ""
            // The address, the call and the system's reason (EADDRNOTAVAIL), not only that binding failed.
            #expect(text.contains("bind 192.0.2.1:1234 failed") && text.contains("errno \(EADDRNOTAVAIL)"), "\(text)")
        }
    }
}

/// A sink that drops everything (for sources expected to fail before delivering).
private struct DiscardingSink: MediaSink {
    func setTracks(_ tracks: [TrackInfo]) {}
    func push(_ frame: MediaFrame) {}
    func flush() {}
}
