/// What a ``StreamHub`` carries: items a reader may start at (sync points, e.g. a fragment
/// beginning with a keyframe) and a byte size for bounding queues.
public protocol HubItem: Sendable {
    /// Whether a reader can start (or resume after skipping) at this item.
    var isSyncPoint: Bool { get }
    /// The item's size, counted against each reader's queue limit.
    var byteCount: Int { get }
}
