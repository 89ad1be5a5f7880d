import CEstuaryUDP
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A non-blocking UDP socket bound for one `udp://` input (joined to its multicast group, if any), read in batches by
/// ``UDPPoller``.
///
/// Guarantees: the descriptor is closed exactly once, by ``close()`` or when the socket is released; a datagram longer
/// than ``slot`` is reported as truncated, never spliced into the next.
final class UDPSocket {
    /// The most bytes kept of one datagram (MPEG-TS over UDP is 1316 bytes; jumbo senders stay under this).
    static let slot = 9216
    /// The most datagrams one receive takes.
    static let batch = Int(ESTUARY_UDP_BATCH)

    private var descriptor: CInt

    /// Opens and binds the socket: `SO_REUSEADDR` (several listeners on one multicast port), a 4 MiB receive buffer
    /// (a poll interval of data at any sane bitrate), and the group joined when `multicastGroup` is set.
    /// `address` is resolved beforehand (``resolve(_:port:)``), off the event loop that opens the socket.
    init(address: SocketAddress, multicastGroup: String?) throws(UDPSocketError) {
        let bindHost = address.ipAddress ?? "?"
        let port = address.port ?? 0
        #if canImport(Darwin)
            let kind = SOCK_DGRAM
        #else
            let kind = CInt(SOCK_DGRAM.rawValue)
        #endif
        let descriptor = socket(address.protocol.rawValue, kind, 0)
        guard descriptor >= 0 else { throw .system(call: "socket", errno: errno) }
        self.descriptor = descriptor
        var one: CInt = 1
        var size: CInt = 4 << 20
        guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
            throw failure("setsockopt SO_REUSEADDR")
        }
        // Beyond `net.core.rmem_max` where the process may (CAP_NET_ADMIN), else up to it: a quiet socket is read only
        // every 50 ms, and a stream that comes back at a high bitrate must fit until then.
        #if os(Linux)
            let forced = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<CInt>.size)) == 0
        #else
            let forced = false
        #endif
        guard forced || setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
            throw failure("setsockopt SO_RCVBUF")
        }
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) == 0 else { throw failure("fcntl") }
        let bound = address.withSockAddr { pointer, length in bind(descriptor, pointer, socklen_t(length)) }
        guard bound == 0 else { throw failure("bind \(bindHost):\(port)") }
        if let multicastGroup {
            // Zeroed: the interface is INADDR_ANY (the kernel picks it by route).
            var request = ip_mreq()
            guard inet_pton(AF_INET, multicastGroup, &request.imr_multiaddr) == 1 else {
                close()
                throw .unresolvable(host: multicastGroup, reason: "not an IPv4 multicast group")
            }
            guard setsockopt(descriptor, CInt(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ip_mreq>.size)) == 0
            else { throw failure("join group \(multicastGroup)") }
        }
    }

    /// The address to bind for `host` (a name is looked up: call it off the event loops).
    static func resolve(_ host: String, port: Int) throws(UDPSocketError) -> SocketAddress {
        do {
            return try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw .unresolvable(host: host, reason: "\(error)")
        }
    }

    /// Closes the socket and names the call that failed (with the `errno` it left).
    private func failure(_ call: String) -> UDPSocketError {
        let code = errno
        close()
        return .system(call: call, errno: code)
    }

    /// The lengths of the datagrams the last ``receive(into:)`` took, in order.
    private(set) var lengths = [CUnsignedInt](repeating: 0, count: batch)
    /// Whether each of them was cut at ``slot`` bytes.
    private(set) var truncated = [CUnsignedChar](repeating: 0, count: batch)

    /// Receives up to ``batch`` queued datagrams into `buffer` without waiting: datagram `i` at `i * slot` bytes from
    /// its start, its length in ``lengths``. Returns how many (0 when none is queued); `buffer`'s written bytes end at
    /// the last slot's end.
    func receive(into buffer: inout ByteBuffer) throws(UDPSocketError) -> Int {
        buffer.clear(minimumCapacity: Self.slot * Self.batch)
        let descriptor = self.descriptor
        let received = buffer.withUnsafeMutableWritableBytes { bytes in
            estuary_udp_receive(
                descriptor, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), CUnsignedInt(Self.slot),
                CUnsignedInt(Self.batch), &self.lengths, &self.truncated)
        }
        guard received >= 0 else { throw .system(call: "recvmmsg", errno: -received) }
        buffer.moveWriterIndex(forwardBy: Int(received) * Self.slot)
        return Int(received)
    }

    /// Closes the descriptor (once).
    func close() {
        guard descriptor >= 0 else { return }
        #if canImport(Darwin)
            _ = Darwin.close(descriptor)
        #elseif canImport(Musl)
            _ = Musl.close(descriptor)
        #else
            _ = Glibc.close(descriptor)
        #endif
        descriptor = -1
    }

    deinit { close() }
}

/// Why a UDP input's socket could not be opened or read.
enum UDPSocketError: Error, CustomStringConvertible {
    /// The bind host or multicast group is not an address.
    case unresolvable(host: String, reason: String)
    /// A system call failed.
    case system(call: String, errno: CInt)

    var description: String {
        switch self {
        case .unresolvable(let host, let reason): "cannot resolve \(host): \(reason)"
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}
