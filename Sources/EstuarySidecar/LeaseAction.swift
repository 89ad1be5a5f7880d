/// One change a sidecar writes to the lease table. Every change is conditional (on the holder or the epoch it
/// saw), so two sidecars acting on the same stream at once cannot both win.
public enum LeaseAction: Sendable, Equatable {
    /// Take streams nobody holds.
    case claim(names: [String])
    /// Take streams from a node that is dead (no heartbeat) or not ready.
    case takeOver(from: String, names: [String])
    /// Ask to take a stream over, make-before-break: this node starts it, the holder stops once it is alive here.
    case requestHandover(name: String, epoch: Int64)
    /// Give a stream to the node that took it over and now runs it.
    case completeHandover(name: String, to: String, epoch: Int64)
    /// Drop a handover whose new node is gone.
    case cancelHandover(name: String, epoch: Int64)
    /// Let go of streams (removed from the configuration, or this node is not ready).
    case release(names: [String])
}
