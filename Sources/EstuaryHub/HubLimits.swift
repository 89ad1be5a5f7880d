/// Bounds that keep one slow reader from costing the source or other readers anything.
public struct HubLimits: Sendable {
    /// Bytes a reader may have queued; past this it skips to the next sync point.
    public var maximumQueuedBytes: Int
    /// A reader that overflows again without having taken anything for this long is disconnected.
    public var stallTimeout: Duration
    /// The GOP cache (items since the last sync point) is dropped if it grows past this.
    public var maximumCachedBytes: Int

    public init(maximumQueuedBytes: Int = 4 << 20, stallTimeout: Duration = .seconds(4), maximumCachedBytes: Int = 32 << 20) {
        self.maximumQueuedBytes = maximumQueuedBytes
        self.stallTimeout = stallTimeout
        self.maximumCachedBytes = maximumCachedBytes
    }
}
