/// A reader group a ``StreamHub`` pushes to instead of queueing for (see ``StreamHub/attach(_:)``).
///
/// A sink serves many readers itself (for example every HTTP client of one stream on one event loop), so the
/// hub's cost per published item is one call per sink, not one per reader. The sink applies the hub's
/// ``HubLimits`` to its readers itself and reports what it did through ``StreamHub/recordPush(readers:skippedItems:skipEvents:disconnected:deliveredBytes:)``.
///
/// Guarantees the hub gives a sink: calls come in publish order from the publishing thread, never under the
/// hub's lock, and never after ``hubFinished()``.
public protocol HubSink<Item>: AnyObject, Sendable {
    associatedtype Item: HubItem
    /// One published item, with the header a reader resuming at a sync point must get first.
    func hubPublished(_ item: Item, header: Item?)
    /// The hub finished: end every reader after what it was given.
    func hubFinished()
}
