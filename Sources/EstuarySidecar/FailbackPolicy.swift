/// What happens to a stream when its preferred node (`cluster_ingest.capture_at`) comes back after a failover.
public enum FailbackPolicy: String, Sendable, Equatable, Codable, CaseIterable {
    /// The stream stays where it runs now.
    case stay
    /// The stream returns, make-before-break: the preferred node starts it, and the node holding it stops only
    /// once the preferred one reports it alive.
    case `return`
}
