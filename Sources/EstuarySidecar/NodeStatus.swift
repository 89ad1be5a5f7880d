/// A node as the cluster sees it now: its declaration plus what its sidecar last reported (PostgreSQL
/// `estuary_nodes`).
public struct NodeStatus: Sendable, Equatable {
    /// Name, role, address, labels, capacity.
    public var node: CentralNode
    /// Its node answered `/readyz` at the last report.
    public var ready: Bool
    /// Streams running on it.
    public var streams: Int
    /// Sum of its streams' input bitrates, bits/s.
    public var bitrate: Int64
    /// Names of the streams alive on it (receiving media).
    public var alive: Set<String>
    /// Input bitrate of each stream alive on it, bits/s.
    public var streamBitrates: [String: Int64]
    /// Seconds since its last heartbeat, by the database's clock.
    public var heartbeatAge: Double
    /// Its node has not been ready yet since its sidecar started (at most 30 s): streams that prefer it wait
    /// for it instead of starting elsewhere.
    public var starting: Bool

    /// Creates a status.
    public init(
        node: CentralNode, ready: Bool, streams: Int = 0, bitrate: Int64 = 0, alive: Set<String> = [],
        streamBitrates: [String: Int64] = [:], heartbeatAge: Double = 0, starting: Bool = false
    ) {
        self.node = node
        self.ready = ready
        self.streams = streams
        self.bitrate = bitrate
        self.alive = alive
        self.streamBitrates = streamBitrates
        self.heartbeatAge = heartbeatAge
        self.starting = starting
    }

    /// Whether the node counts as live: ready, with a heartbeat younger than `deadAfter` seconds.
    public func isLive(deadAfter: Double) -> Bool { ready && heartbeatAge < deadAfter }
}
