import Synchronization

/// Counters every reader of one hub adds to, so that they outlive the readers (the hub's
/// statistics count everything since the hub was created, not only current readers).
final class HubCounters: Sendable {
    let skippedItems = Atomic<UInt64>(0)
    let skipEvents = Atomic<UInt64>(0)
    let deliveredBytes = Atomic<UInt64>(0)
    /// Readers served by sinks (``HubSink``) rather than queues.
    let pushedReaders = Atomic<Int>(0)
    /// Readers with a queue (subscriptions): a copy of the hub's count, kept under its lock, read without it.
    let queuedReaders = Atomic<Int>(0)

    func delivered(_ item: some HubItem) {
        deliveredBytes.add(UInt64(item.byteCount), ordering: .relaxed)
    }
}

/// One reader's bounded queue inside a ``StreamHub``. The hub appends; the reader's task takes.
final class ReaderQueue<Item: HubItem>: Sendable {
    struct State {
        var items: [Item] = []
        var head = 0
        var queuedBytes = 0
        var skipping = false
        var finished = false
        var failure: HubError?
        var waiter: CheckedContinuation<Item?, any Error>?
        var lastTake = ContinuousClock.now

        var isEmpty: Bool { head >= items.count }

        mutating func append(_ item: Item) {
            items.append(item)
            queuedBytes += item.byteCount
        }

        mutating func removeFirst() -> Item {
            let item = items[head]
            head += 1
            queuedBytes -= item.byteCount
            if head >= items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 64, head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }

        mutating func clear() {
            items.removeAll(keepingCapacity: true)
            head = 0
            queuedBytes = 0
        }
    }

    /// What the hub must do after an enqueue, outside the locks.
    enum Delivery {
        case none
        case resume(CheckedContinuation<Item?, any Error>, Item)
        case fail(CheckedContinuation<Item?, any Error>, HubError)
        case disconnected
    }

    let id: Int
    let state: Mutex<State>
    let counters: HubCounters

    init(id: Int, initial: [Item], counters: HubCounters) {
        self.id = id
        self.counters = counters
        var state = State()
        for item in initial { state.append(item) }
        self.state = Mutex(state)
    }

    /// Appends an item, applying the skip-to-sync-point and stall rules.
    func enqueue(_ item: Item, header: Item?, limits: HubLimits) -> Delivery {
        state.withLock { state -> Delivery in
            if state.finished { return .none }
            if state.skipping {
                guard item.isSyncPoint else {
                    counters.skippedItems.add(1, ordering: .relaxed)
                    return .none
                }
                state.skipping = false
                if let header { state.append(header) }
            } else if state.queuedBytes + item.byteCount > limits.maximumQueuedBytes, !state.isEmpty {
                if ContinuousClock.now - state.lastTake > limits.stallTimeout {
                    let failure = HubError.readerTooSlow(queuedBytes: state.queuedBytes)
                    state.finished = true
                    state.failure = failure
                    state.clear()
                    if let waiter = state.waiter {
                        state.waiter = nil
                        return .fail(waiter, failure)
                    }
                    return .disconnected
                }
                counters.skippedItems.add(UInt64(state.items.count - state.head), ordering: .relaxed)
                state.clear()
                counters.skipEvents.add(1, ordering: .relaxed)
                guard item.isSyncPoint else {
                    state.skipping = true
                    counters.skippedItems.add(1, ordering: .relaxed)
                    return .none
                }
                if let header { state.append(header) }
            }
            if let waiter = state.waiter, state.isEmpty {
                state.waiter = nil
                state.lastTake = ContinuousClock.now
                counters.delivered(item)
                return .resume(waiter, item)
            }
            state.append(item)
            if let waiter = state.waiter {
                state.waiter = nil
                let first = state.removeFirst()
                state.lastTake = ContinuousClock.now
                counters.delivered(first)
                return .resume(waiter, first)
            }
            return .none
        }
    }

    /// Ends the queue: the reader gets what is queued, then the end.
    func finish() -> CheckedContinuation<Item?, any Error>? {
        state.withLock { state in
            state.finished = true
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
    }

    enum Immediate {
        case item(Item?)
        case failure(HubError)
        case wait
    }

    /// The next item, waiting for one; nil at the end.
    func next() async throws -> Item? {
        let immediate = state.withLock { state -> Immediate in
            if !state.isEmpty {
                let item = state.removeFirst()
                state.lastTake = ContinuousClock.now
                counters.delivered(item)
                return .item(item)
            }
            if let failure = state.failure { return .failure(failure) }
            if state.finished { return .item(nil) }
            return .wait
        }
        switch immediate {
        case .item(let item): return item
        case .failure(let failure): throw failure
        case .wait: break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Item?, any Error>) in
                let resumeNow = state.withLock { state -> Result<Item?, any Error>? in
                    if !state.isEmpty {
                        let item = state.removeFirst()
                        state.lastTake = ContinuousClock.now
                        counters.delivered(item)
                        return .success(item)
                    }
                    if let failure = state.failure { return .failure(failure) }
                    if state.finished || Task.isCancelled { return .success(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.finished = true
                let waiter = state.waiter
                state.waiter = nil
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
