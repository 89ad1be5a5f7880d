import Synchronization

/// Fans one source out to many readers.
///
/// Guarantees:
/// - a new reader gets the current header (e.g. an init segment) and every item since the
///   last sync point at once (the GOP cache), then live items in order;
/// - `publish` never waits for a reader: each reader has its own queue bounded by
///   ``HubLimits/maximumQueuedBytes``; a reader that overflows drops its queue and resumes at
///   the next sync point (preceded by the header), and one that overflows after taking nothing
///   for ``HubLimits/stallTimeout`` is disconnected with ``HubError/readerTooSlow(queuedBytes:)``;
/// - items are shared, not copied: a reader's queue holds references to the published values;
/// - a ``HubSink`` attached with ``attach(_:)`` gets each item by one call, in publish order, for all the
///   readers it serves; the readers it reports count in ``statistics`` and ``hasReaders``.
public final class StreamHub<Item: HubItem>: Sendable {
    struct State {
        var header: Item?
        var cache: [Item] = []
        var cacheBytes = 0
        var readers: [ReaderQueue<Item>] = []
        var sinks: [any HubSink<Item>] = []
        var nextID = 0
        var finished = false
        var stats = HubStatistics()
    }

    public let limits: HubLimits
    private let state: Mutex<State>
    private let counters = HubCounters()

    public init(limits: HubLimits = HubLimits()) {
        self.limits = limits
        self.state = Mutex(State())
    }

    /// Sets the header every new reader starts with (and that follows a skip). Does not publish it.
    public func setHeader(_ header: Item?) {
        state.withLock { $0.header = header }
    }

    /// Publishes one item to every reader and the GOP cache.
    public func publish(_ item: Item) {
        var deliveries: [ReaderQueue<Item>.Delivery] = []
        let (sinks, header) = state.withLock { state -> ([any HubSink<Item>], Item?) in
            guard !state.finished else { return ([], nil) }
            state.stats.publishedItems += 1
            state.stats.publishedBytes += UInt64(item.byteCount)
            if item.isSyncPoint {
                state.cache.removeAll(keepingCapacity: true)
                state.cacheBytes = 0
            }
            if item.isSyncPoint || !state.cache.isEmpty {
                state.cache.append(item)
                state.cacheBytes += item.byteCount
                if state.cacheBytes > limits.maximumCachedBytes {
                    state.cache.removeAll()
                    state.cacheBytes = 0
                }
            }
            var disconnected = false
            for reader in state.readers {
                let delivery = reader.enqueue(item, header: state.header, limits: limits)
                switch delivery {
                case .none: continue
                case .disconnected, .fail:
                    disconnected = true
                    state.stats.disconnectedReaders += 1
                case .resume: break
                }
                deliveries.append(delivery)
            }
            if disconnected {
                state.readers.removeAll { $0.state.withLock { $0.finished } }
                counters.queuedReaders.store(state.readers.count, ordering: .relaxed)
            }
            return (state.sinks, state.header)
        }
        for sink in sinks { sink.hubPublished(item, header: header) }
        for delivery in deliveries {
            switch delivery {
            case .resume(let continuation, let item): continuation.resume(returning: item)
            case .fail(let continuation, let error): continuation.resume(throwing: error)
            case .none, .disconnected: break
            }
        }
    }

    /// Subscribes a new reader. Iterate the result; stop iterating (or drop it) to unsubscribe.
    public func subscribe() -> HubSubscription<Item> {
        let queue = state.withLock { state -> ReaderQueue<Item> in
            var initial: [Item] = []
            // After finish() the stream is over: a new reader gets an ended sequence, not a replay.
            if !state.finished {
                if let header = state.header { initial.append(header) }
                initial += state.cache
            }
            let queue = ReaderQueue<Item>(id: state.nextID, initial: initial, counters: counters)
            state.nextID += 1
            if state.finished {
                _ = queue.finish()
            } else {
                state.readers.append(queue)
                counters.queuedReaders.store(state.readers.count, ordering: .relaxed)
            }
            return queue
        }
        return HubSubscription(queue: queue, hub: self)
    }

    /// Attaches a sink: it gets every item published from now on. Returns what a reader joining now starts
    /// with (the header, then the GOP cache), or nil when the hub has finished (the sink is not attached).
    public func attach(_ sink: some HubSink<Item>) -> (header: Item?, cache: [Item])? {
        state.withLock { state -> (header: Item?, cache: [Item])? in
            guard !state.finished else { return nil }
            state.sinks.append(sink)
            return (state.header, state.cache)
        }
    }

    /// Detaches a sink: no call reaches it after one already under way.
    public func detach(_ sink: some HubSink<Item>) {
        state.withLock { state in state.sinks.removeAll { $0 === sink } }
    }

    /// What sinks did to their readers, added to the hub's statistics: `readers` is the change in their number.
    public func recordPush(
        readers: Int = 0, skippedItems: UInt64 = 0, skipEvents: UInt64 = 0, disconnected: UInt64 = 0, deliveredBytes: UInt64 = 0
    ) {
        if readers != 0 { counters.pushedReaders.add(readers, ordering: .relaxed) }
        if skippedItems != 0 { counters.skippedItems.add(skippedItems, ordering: .relaxed) }
        if skipEvents != 0 { counters.skipEvents.add(skipEvents, ordering: .relaxed) }
        if deliveredBytes != 0 { counters.deliveredBytes.add(deliveredBytes, ordering: .relaxed) }
        if disconnected != 0 { state.withLock { $0.stats.disconnectedReaders += disconnected } }
    }

    /// Ends every reader's sequence (after what it has queued) and refuses further items.
    public func finish() {
        let (waiters, sinks) = state.withLock { state -> ([CheckedContinuation<Item?, any Error>], [any HubSink<Item>]) in
            state.finished = true
            let waiters = state.readers.compactMap { $0.finish() }
            state.readers.removeAll()
            counters.queuedReaders.store(0, ordering: .relaxed)
            state.cache.removeAll()
            state.cacheBytes = 0
            let sinks = state.sinks
            state.sinks.removeAll()
            return (waiters, sinks)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        for sink in sinks { sink.hubFinished() }
    }

    /// The header new readers start with.
    public var header: Item? { state.withLock { $0.header } }

    /// Whether any reader is subscribed (cheap: two atomic loads, no lock; the publisher asks it for every frame).
    public var hasReaders: Bool {
        counters.pushedReaders.load(ordering: .relaxed) > 0 || counters.queuedReaders.load(ordering: .relaxed) > 0
    }

    /// Forgets the GOP cache, e.g. when the publisher pauses: a reader joining later starts
    /// at the next sync point instead of replaying stale items.
    public func dropCache() {
        state.withLock { state in
            state.cache.removeAll()
            state.cacheBytes = 0
        }
    }

    /// Whether ``finish()`` was called.
    public var isFinished: Bool { state.withLock { $0.finished } }

    /// The hub's counters, including those of readers still subscribed.
    public var statistics: HubStatistics {
        state.withLock { state in
            var stats = state.stats
            stats.readers = state.readers.count + counters.pushedReaders.load(ordering: .relaxed)
            stats.skippedItems = counters.skippedItems.load(ordering: .relaxed)
            stats.skipEvents = counters.skipEvents.load(ordering: .relaxed)
            stats.deliveredBytes = counters.deliveredBytes.load(ordering: .relaxed)
            return stats
        }
    }

    func remove(_ queue: ReaderQueue<Item>) {
        let waiter = queue.finish()
        waiter?.resume(returning: nil)
        state.withLock { state in
            guard let index = state.readers.firstIndex(where: { $0 === queue }) else { return }
            state.readers.remove(at: index)
            counters.queuedReaders.store(state.readers.count, ordering: .relaxed)
        }
    }
}

/// A reader of a ``StreamHub``: an `AsyncSequence` of items that ends when the hub finishes
/// and throws ``HubError`` if the reader is disconnected. Unsubscribes when deallocated or
/// when ``cancel()`` is called.
public final class HubSubscription<Item: HubItem>: AsyncSequence, Sendable {
    public typealias Element = Item
    let queue: ReaderQueue<Item>
    let hub: StreamHub<Item>

    init(queue: ReaderQueue<Item>, hub: StreamHub<Item>) {
        self.queue = queue
        self.hub = hub
    }

    deinit { hub.remove(queue) }

    /// Unsubscribes now: the sequence ends after what is already queued.
    public func cancel() { hub.remove(queue) }

    /// Items queued for this reader right now.
    public var queuedBytes: Int { queue.state.withLock { $0.queuedBytes } }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let subscription: HubSubscription<Item>

        public mutating func next() async throws -> Item? {
            try await subscription.queue.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(subscription: self) }
}
