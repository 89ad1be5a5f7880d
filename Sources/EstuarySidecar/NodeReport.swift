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

    /// Creates a report.
    public init(ready: Bool, streams: Int = 0, bitrate: Int64 = 0, alive: Set<String> = []) {
        self.ready = ready
        self.streams = streams
        self.bitrate = bitrate
        self.alive = alive
    }

    /// A node that did not answer.
    public static let unreachable = NodeReport(ready: false)
}
