/// What a sidecar learns from its own node's API: whether it is ready, and its load.
public struct NodeReport: Sendable, Equatable {
    /// `GET /readyz` answered 200.
    public var ready: Bool
    /// Streams running on it.
    public var streams: Int
    /// Sum of input bitrates, bits/s.
    public var bitrate: Int64
    /// Names of streams that are alive.
    public var alive: Set<String>
    /// Input bitrate of each alive stream, bits/s (placement weighs streams by it).
    public var bitrates: [String: Int64]
    /// Clients of each stream that has any now (a dynamic stream stays placed while it has some).
    public var clients: [String: Int]

    /// Creates a report.
    public init(
        ready: Bool, streams: Int = 0, bitrate: Int64 = 0, alive: Set<String> = [], bitrates: [String: Int64] = [:],
        clients: [String: Int] = [:]
    ) {
        self.ready = ready
        self.streams = streams
        self.bitrate = bitrate
        self.alive = alive
        self.bitrates = bitrates
        self.clients = clients
    }

    /// A node that did not answer.
    public static let unreachable = NodeReport(ready: false)
}
