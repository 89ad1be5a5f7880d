/// A dynamic name (one a template covers) placed on a node of its role, as PostgreSQL `estuary_dynamic` holds it.
///
/// In capture-once mode a pulled dynamic stream is captured once, like a configured one: the first sidecar asked
/// for it chooses the least-loaded live node of the role, every planner then treats the name as a stream preferring
/// that node (it takes a lease there, or elsewhere if that node dies), and the other nodes asked for it relay it
/// from the holder over M4F. It stays placed while some sidecar keeps asking for it (a new client, or clients
/// watching it on its node); ``lifetime`` after the last ask it ends, its lease is released, and the nodes stop it.
public struct DynamicPlacement: Sendable, Equatable {
    /// How long a placement lasts after it was last asked for.
    public static let lifetime: Duration = .seconds(30)
    /// How much longer than the nodes relaying it the holder keeps an ended placement: the relays stop first, so
    /// a relay reconnecting to a holder that already stopped cannot make the holder place the name again.
    public static let holderGrace: Duration = .seconds(5)

    /// The stream's role and name.
    public var key: StreamKey
    /// The node chosen to capture it when it was first asked for.
    public var node: String
    /// Until when it stays placed without being asked for again.
    public var expires: ContinuousClock.Instant

    /// Creates a placement.
    public init(key: StreamKey, node: String, expires: ContinuousClock.Instant) {
        self.key = key
        self.node = node
        self.expires = expires
    }
}
