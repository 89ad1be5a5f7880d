import EstuaryHub
import Testing

/// A hub item that is only an id, a sync flag and a size.
struct TestItem: HubItem, Equatable, CustomStringConvertible {
    var id: Int
    var isSyncPoint: Bool
    var byteCount: Int

    init(_ id: Int, sync: Bool = false, bytes: Int = 10) {
        self.id = id
        self.isSyncPoint = sync
        self.byteCount = bytes
    }

    static let header = TestItem(-1, bytes: 10)

    var description: String { id == -1 ? "H" : isSyncPoint ? "\(id)*" : "\(id)" }
}

/// Takes `count` items from `iterator`, failing on an early end.
func take(
    _ count: Int, from iterator: inout HubSubscription<TestItem>.AsyncIterator, sourceLocation: SourceLocation = #_sourceLocation
) async throws -> [Int] {
    var ids: [Int] = []
    for _ in 0..<count {
        guard let item = try await iterator.next() else {
            Issue.record("sequence ended after \(ids)", sourceLocation: sourceLocation)
            break
        }
        ids.append(item.id)
    }
    return ids
}

/// Takes every item up to the end of the sequence.
func drain(_ iterator: inout HubSubscription<TestItem>.AsyncIterator) async throws -> [Int] {
    var ids: [Int] = []
    while let item = try await iterator.next() { ids.append(item.id) }
    return ids
}

@Suite(.timeLimit(.minutes(1))) struct StreamHubTests {
    @Test func aNewReaderGetsTheHeaderAndTheGOPSinceTheLastSyncPointThenLiveItems() async throws {
        let hub = StreamHub<TestItem>()
        hub.setHeader(.header)
        for id in 0..<6 { hub.publish(TestItem(id, sync: id % 3 == 0)) }
        let subscription = hub.subscribe()
        #expect(subscription.queuedBytes == 40)
        var iterator = subscription.makeAsyncIterator()
        #expect(try await take(4, from: &iterator) == [-1, 3, 4, 5])
        #expect(subscription.queuedBytes == 0)
        hub.publish(TestItem(6, sync: true))
        hub.publish(TestItem(7))
        #expect(try await take(2, from: &iterator) == [6, 7])
        // A later reader starts at the newest sync point.
        var late = hub.subscribe().makeAsyncIterator()
        #expect(try await take(3, from: &late) == [-1, 6, 7])
    }

    @Test func aReaderJoiningBeforeAnySyncPointGetsTheHeaderThenEveryLiveItem() async throws {
        let hub = StreamHub<TestItem>()
        hub.setHeader(.header)
        hub.publish(TestItem(0))
        hub.publish(TestItem(1))
        // Nothing is cached before the first sync point: the header alone is queued.
        let subscription = hub.subscribe()
        #expect(subscription.queuedBytes == 10)
        var iterator = subscription.makeAsyncIterator()
        hub.publish(TestItem(2))
        hub.publish(TestItem(3, sync: true))
        hub.publish(TestItem(4))
        // StreamHub does not hold back items before the first sync point from a new reader.
        #expect(try await take(4, from: &iterator) == [-1, 2, 3, 4])
        var late = hub.subscribe().makeAsyncIterator()
        #expect(try await take(3, from: &late) == [-1, 3, 4])
    }

    @Test func withoutAHeaderAReaderStartsWithTheCache() async throws {
        let hub = StreamHub<TestItem>()
        hub.publish(TestItem(0, sync: true))
        hub.publish(TestItem(1))
        var iterator = hub.subscribe().makeAsyncIterator()
        #expect(try await take(2, from: &iterator) == [0, 1])
    }

    @Test func theGOPCacheIsDroppedWhenItOutgrowsItsLimit() async throws {
        let hub = StreamHub<TestItem>(limits: HubLimits(maximumCachedBytes: 25))
        hub.setHeader(.header)
        hub.publish(TestItem(0, sync: true))
        hub.publish(TestItem(1))
        #expect(hub.subscribe().queuedBytes == 30)
        hub.publish(TestItem(2))
        // 30 bytes cached: over the limit, so the cache is gone until the next sync point.
        let subscription = hub.subscribe()
        #expect(subscription.queuedBytes == 10)
        hub.publish(TestItem(3))
        hub.publish(TestItem(4, sync: true))
        var iterator = subscription.makeAsyncIterator()
        #expect(try await take(3, from: &iterator) == [-1, 3, 4])
        #expect(hub.subscribe().queuedBytes == 20)
    }

    @Test func aSlowReaderSkipsToTheNextSyncPointWhileAFastReaderGetsEverything() async throws {
        let hub = StreamHub<TestItem>(limits: HubLimits(maximumQueuedBytes: 35, stallTimeout: .seconds(3_600)))
        hub.setHeader(.header)
        let slow = hub.subscribe()
        let fast = hub.subscribe()
        var fastIterator = fast.makeAsyncIterator()
        var fastIDs = try await take(1, from: &fastIterator)
        for id in 0..<22 {
            hub.publish(TestItem(id, sync: id % 5 == 0))
            fastIDs += try await take(1, from: &fastIterator)
        }
        #expect(fastIDs == [-1] + Array(0..<22))
        // The slow queue (header + items, 10 bytes each, at most 35 bytes) overflowed on items
        // 2, 7, 12 and 17; each time it dropped what it held (header included) and skipped to
        // the next sync point, which arrived behind a fresh copy of the header.
        #expect(slow.queuedBytes == 30)
        var slowIterator = slow.makeAsyncIterator()
        #expect(try await take(3, from: &slowIterator) == [-1, 20, 21])
        let statistics = hub.statistics
        #expect(statistics.skipEvents == 4)
        // Per overflow: header, sync item and one more dropped from the queue, then three
        // items skipped while waiting for the next sync point.
        #expect(statistics.skippedItems == 24)
        #expect(statistics.publishedItems == 22)
        #expect(statistics.publishedBytes == 220)
        #expect(statistics.disconnectedReaders == 0)
        #expect(statistics.readers == 2)
        #expect(statistics.deliveredBytes == 230 + 30)
        // Both read on as live readers.
        hub.publish(TestItem(22))
        #expect(try await take(1, from: &slowIterator) == [22])
        #expect(try await take(1, from: &fastIterator) == [22])
    }

    @Test func aStalledReaderIsDisconnectedAndOthersAreUnaffected() async throws {
        let hub = StreamHub<TestItem>(limits: HubLimits(maximumQueuedBytes: 250, stallTimeout: .milliseconds(50)))
        let stalled = hub.subscribe()
        let fast = hub.subscribe()
        var fastIterator = fast.makeAsyncIterator()
        var fastIDs: [Int] = []
        var disconnectedAt: Int?
        // Publish until the hub disconnects the stalled reader, for about 2 s. Should the test
        // task be starved past the deadline, the stall timeout has certainly expired by then, so
        // the next overflow (at most two more items) must disconnect it.
        let deadline = ContinuousClock.now + .seconds(2)
        var publishedAfterDeadline = 0
        var id = 0
        while publishedAfterDeadline < 2 {
            if ContinuousClock.now >= deadline { publishedAfterDeadline += 1 }
            hub.publish(TestItem(id, sync: true, bytes: 100))
            fastIDs += try await take(1, from: &fastIterator)
            if hub.statistics.disconnectedReaders == 1 {
                disconnectedAt = id
                break
            }
            id += 1
            try await Task.sleep(for: .milliseconds(10))
        }
        let at = try #require(disconnectedAt)
        // Items 2, 4, 6, ... overflow the two-item queue: every overflow but the last skipped.
        #expect(at >= 2 && at % 2 == 0)
        #expect(fastIDs == Array(0...at))
        let statistics = hub.statistics
        #expect(statistics.readers == 1)
        #expect(statistics.skipEvents == UInt64(at / 2 - 1))
        #expect(statistics.skippedItems == UInt64(2 * (at / 2 - 1)))
        await #expect(throws: HubError.readerTooSlow(queuedBytes: 200)) {
            var stalledIterator = stalled.makeAsyncIterator()
            _ = try await stalledIterator.next()
        }
        // The other reader reads on.
        hub.publish(TestItem(at + 1, sync: true, bytes: 100))
        #expect(try await take(1, from: &fastIterator) == [at + 1])
        #expect(stalled.queuedBytes == 0)
        #expect(hub.statistics.disconnectedReaders == 1)
    }

    @Test func finishLetsReadersDrainThenEnds() async throws {
        let hub = StreamHub<TestItem>()
        hub.setHeader(.header)
        let subscription = hub.subscribe()
        hub.publish(TestItem(0, sync: true))
        hub.publish(TestItem(1))
        hub.finish()
        #expect(hub.isFinished)
        hub.publish(TestItem(2))
        var iterator = subscription.makeAsyncIterator()
        #expect(try await drain(&iterator) == [-1, 0, 1])
        #expect(try await iterator.next() == nil)
        let statistics = hub.statistics
        #expect(statistics.publishedItems == 2)
        #expect(statistics.readers == 0)
        // Counters of readers that finish() ended are kept.
        #expect(statistics.deliveredBytes == 30)
    }

    /// How a reader's sequence can be ended from outside.
    enum Ending: CaseIterable, Sendable { case hubFinished, subscriptionCancelled }

    @Test(arguments: Ending.allCases) func endingWakesAWaitingReader(_ ending: Ending) async throws {
        let hub = StreamHub<TestItem>()
        let subscription = hub.subscribe()
        let reader = Task {
            var iterator = subscription.makeAsyncIterator()
            return try await drain(&iterator)
        }
        hub.publish(TestItem(0, sync: true))
        switch ending {
        case .hubFinished: hub.finish()
        case .subscriptionCancelled: subscription.cancel()
        }
        #expect(try await reader.value == [0])
    }

    @Test func subscribingAfterFinishGivesAnEndedSequence() async throws {
        let hub = StreamHub<TestItem>()
        hub.setHeader(.header)
        hub.publish(TestItem(0, sync: true))
        hub.finish()
        let subscription = hub.subscribe()
        #expect(subscription.queuedBytes == 0)
        var iterator = subscription.makeAsyncIterator()
        #expect(try await iterator.next() == nil)
        #expect(hub.statistics.readers == 0)
    }

    @Test func aCancelledTaskWaitingForAnItemGetsNil() async throws {
        let hub = StreamHub<TestItem>()
        let subscription = hub.subscribe()
        let (started, continuation) = AsyncStream<Void>.makeStream()
        let reader = Task {
            var iterator = subscription.makeAsyncIterator()
            continuation.yield()
            return try await iterator.next()
        }
        for await _ in started { break }
        reader.cancel()
        #expect(try await reader.value == nil)
        #expect(hub.statistics.readers == 1)
        subscription.cancel()
        #expect(hub.statistics.readers == 0)
    }

    @Test func cancelUnsubscribesAndEndsAfterWhatIsQueued() async throws {
        let hub = StreamHub<TestItem>()
        let subscription = hub.subscribe()
        let other = hub.subscribe()
        #expect(hub.statistics.readers == 2)
        hub.publish(TestItem(0, sync: true))
        hub.publish(TestItem(1))
        subscription.cancel()
        #expect(hub.statistics.readers == 1)
        hub.publish(TestItem(2))
        var iterator = subscription.makeAsyncIterator()
        #expect(try await drain(&iterator) == [0, 1])
        var otherIterator = other.makeAsyncIterator()
        #expect(try await take(3, from: &otherIterator) == [0, 1, 2])
        // The cancelled reader's delivered bytes stay counted.
        #expect(hub.statistics.deliveredBytes == 50)
    }

    @Test func droppingASubscriptionUnsubscribes() {
        let hub = StreamHub<TestItem>()
        do {
            let subscription = hub.subscribe()
            #expect(hub.statistics.readers == 1)
            withExtendedLifetime(subscription) {}
        }
        #expect(hub.statistics.readers == 0)
    }

    @Test func aNeverReadingReaderStaysWithinItsQueueLimit() {
        let item = 100 << 10
        let limit = 1 << 20
        let hub = StreamHub<TestItem>(limits: HubLimits(maximumQueuedBytes: limit, stallTimeout: .seconds(3_600)))
        let subscription = hub.subscribe()
        var largest = 0
        for id in 0..<1_024 {
            hub.publish(TestItem(id, sync: id % 10 == 0, bytes: item))
            largest = max(largest, subscription.queuedBytes)
        }
        #expect(hub.statistics.publishedBytes == 100 << 20)
        #expect(largest <= limit + item)
        // Ten items fit (1 000 KiB); the eleventh, always a sync point here, starts over.
        #expect(largest == 10 * item)
        #expect(subscription.queuedBytes == 4 * item)
        #expect(hub.statistics.skipEvents == 102)
        #expect(hub.statistics.skippedItems == 1_020)
    }

    @Test func manyConcurrentReadersEachGetEveryItemInOrder() async throws {
        let hub = StreamHub<TestItem>(
            limits: HubLimits(maximumQueuedBytes: 1 << 40, stallTimeout: .seconds(3_600), maximumCachedBytes: 1 << 40))
        hub.setHeader(.header)
        let subscriptions = (0..<50).map { _ in hub.subscribe() }
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for subscription in subscriptions {
                group.addTask {
                    var iterator = subscription.makeAsyncIterator()
                    return try await drain(&iterator)
                }
            }
            group.addTask {
                for id in 0..<2_000 {
                    hub.publish(TestItem(id, sync: id % 50 == 0))
                    if id % 100 == 0 { await Task.yield() }
                }
                hub.finish()
                return []
            }
            var results: [[Int]] = []
            for try await result in group where !result.isEmpty { results.append(result) }
            return results
        }
        #expect(results.count == 50)
        let expected = [-1] + Array(0..<2_000)
        #expect(results.allSatisfy { $0 == expected })
        let statistics = hub.statistics
        #expect(statistics.skipEvents == 0)
        #expect(statistics.skippedItems == 0)
        #expect(statistics.publishedItems == 2_000)
        #expect(statistics.deliveredBytes == 50 * 2_001 * 10)
    }
}
