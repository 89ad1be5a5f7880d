/// Who captures one stream now (PostgreSQL `estuary_leases`): the holder, the node taking it over in a
/// make-before-break handover, and the fencing epoch that every change increments.
public struct Lease: Sendable, Equatable, Codable {
    /// The node that runs the stream.
    public var node: String
    /// The node starting it before the holder lets go (failback `return`); `nil` outside a handover.
    public var nextNode: String?
    /// Incremented by every change; a change written against an older epoch is refused.
    public var epoch: Int64

    /// Creates a lease.
    public init(node: String, nextNode: String? = nil, epoch: Int64) {
        self.node = node
        self.nextNode = nextNode
        self.epoch = epoch
    }

    enum CodingKeys: String, CodingKey {
        case node
        case nextNode = "next_node"
        case epoch
    }
}
