/// Who this sidecar speaks for: its node's name, role, address and labels.
public struct SidecarIdentity: Sendable, Equatable {
    /// The node's hostname (`HOSTNAME`), the `host=` its node sends.
    public var hostname: String
    /// The node's role (`ESTUARY_ROLE`).
    public var role: String
    /// `host:port` where other nodes reach this node (`SIDECAR_ADVERTISE`).
    public var advertise: String
    /// Labels for `capture_at` selectors (`SIDECAR_LABELS=region=eu,rack=3`).
    public var labels: [String: String]
    /// Relative share of streams; 0 means 1.
    public var capacity: Int

    /// Creates an identity.
    public init(hostname: String, role: String = "ingest", advertise: String = "", labels: [String: String] = [:], capacity: Int = 0) {
        self.hostname = hostname
        self.role = role
        self.advertise = advertise
        self.labels = labels
        self.capacity = capacity
    }

    /// This node as a ``CentralNode``.
    public var node: CentralNode {
        CentralNode(name: hostname, role: role, advertise: advertise, labels: labels, capacity: capacity)
    }
}
