/// Counters of a ``StreamHub`` since it was created.
public struct HubStatistics: Sendable, Equatable {
    /// Readers subscribed now.
    public var readers: Int = 0
    /// Items and bytes published.
    public var publishedItems: UInt64 = 0
    public var publishedBytes: UInt64 = 0
    /// Items readers missed because they were too slow (each skipped item counted once per reader).
    public var skippedItems: UInt64 = 0
    /// Times a reader overflowed and began skipping to the next sync point.
    public var skipEvents: UInt64 = 0
    /// Readers disconnected for being too slow.
    public var disconnectedReaders: UInt64 = 0
    /// Bytes delivered to readers (taken from their queues).
    public var deliveredBytes: UInt64 = 0

    public init() {}
}
