import EstuaryMedia
import NIOCore

/// `udp://[@]host:port`: receives MPEG-TS datagrams, unicast or multicast (`@group:port`
/// joins the group). The socket stays bound while the source runs and is read by the node's ``UDPPoller``; silence
/// is handled by the supervisor's `source_timeout`, a failed receive ends the source (the supervisor binds again).
public struct UDPTSSource: MediaSource {
    public let displayURL: String
    let bindHost: String
    let port: Int
    let multicastGroup: String?
    let poller: UDPPoller

    /// A source whose socket `poller` reads (one poller per node: see ``SourceFactory/udpPoller``).
    public init(url: String, displayURL: String, poller: UDPPoller) throws(SourceError) {
        let parsed = try InputURL(parsing: url)
        guard let port = parsed.port else { throw .invalidURL(displayURL, reason: "missing port") }
        self.displayURL = displayURL
        self.port = port
        self.poller = poller
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
        let (bindHost, port, multicastGroup) = (self.bindHost, self.port, self.multicastGroup)
        let registration: UDPPoller.Registration
        do {
            let address = try UDPSocket.resolve(bindHost, port: port)
            registration = try await poller.add(
                open: { () throws(UDPSocketError) in try UDPSocket(address: address, multicastGroup: multicastGroup) },
                makeReader: { UDPTSReader(socket: $0, sink: sink) })
        } catch {
            throw SourceError.connectionFailed(url: displayURL, reason: "cannot bind UDP \(bindHost):\(port): \(error)")
        }
        // The poller feeds the sink on its event loop; this task only holds the socket open.
        do {
            try await withTaskCancellationHandler {
                try await registration.ended.get()
            } onCancel: {
                poller.remove(registration)
            }
        } catch {
            throw SourceError.connectionFailed(url: displayURL, reason: "UDP \(bindHost):\(port): \(error)")
        }
    }
}

/// Feeds each datagram of one socket through the MPEG-TS demuxer into the sink, on the poller's event loop: no hop to
/// another task per datagram. The demuxer state is confined to that loop.
final class UDPTSReader<Sink: MediaSink>: UDPPolledReader {
    let socket: UDPSocket
    private let sink: Sink
    private var feeder = TSFeeder()

    init(socket: UDPSocket, sink: Sink) {
        self.socket = socket
        self.sink = sink
    }

    func datagram(_ bytes: ByteBuffer, truncated: Bool) {
        if truncated {
            sink.inputError("UDP datagram longer than \(UDPSocket.slot) bytes: its first \(UDPSocket.slot) bytes are kept")
        }
        feeder.feed(bytes, into: sink)
    }
}
