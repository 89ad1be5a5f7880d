/// Which node captures a stream (wire object `cluster_ingest`).
public struct ClusterIngestConfig: Sendable, Equatable, Hashable {
    /// Wire name `capture_at`: the hostname of the node that captures the stream; `nil` lets any node.
    public var captureAt: String?

    /// Creates the setting.
    public init(captureAt: String? = nil) {
        self.captureAt = captureAt
    }
}
