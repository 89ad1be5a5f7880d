import NIOCore
import NIOPosix

/// Whether a node's process still listens at its advertised address: a TCP connection, opened and closed at once.
///
/// A node whose heartbeat stopped may be gone, or only its sidecar may be late (starved of CPU, restarting). The
/// first refuses the connection or lets it time out; the second's process still accepts, and still runs its
/// streams: taking them over would run them twice. The check says nothing of the node's health; the planner
/// trusts it only for ``LeasePlanner/unresponsiveLimit``.
public struct NodeReachability: Sendable {
    /// How long a connection may take before the node counts as unreachable.
    public let timeout: Duration
    let group: any EventLoopGroup

    /// Creates a check.
    public init(timeout: Duration = .milliseconds(500), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.timeout = timeout
        self.group = group
    }

    /// Whether `advertise` (`host:port`, `[v6]:port`, or a URL with either) accepts a TCP connection within ``timeout``.
    public func accepts(_ advertise: String) async -> Bool {
        guard let (host, port) = Self.hostAndPort(advertise) else { return false }
        do {
            let channel = try await ClientBootstrap(group: group).connectTimeout(TimeAmount(timeout)).connect(host: host, port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    /// The nodes among `names` whose addresses accept a connection, checked at once.
    public func accepting(_ addresses: [String: String]) async -> Set<String> {
        await withTaskGroup(of: String?.self) { group in
            for (name, address) in addresses {
                group.addTask { await accepts(address) ? name : nil }
            }
            var result: Set<String> = []
            for await name in group {
                if let name { result.insert(name) }
            }
            return result
        }
    }

    /// The host and port of an advertised address; `nil` without a port.
    static func hostAndPort(_ advertise: String) -> (String, Int)? {
        var rest = Substring(advertise)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else { return nil }
            return (String(host), port)
        }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port),
            colon > rest.startIndex
        else { return nil }
        return (String(rest[..<colon]), port)
    }
}
