import EstuaryReplication
import Testing

@Suite struct ReplicationPlanTests {
    static func segment(_ start: Int64, _ duration: Int64 = 4000, _ sha: String? = nil) -> RemoteSegment {
        RemoteSegment(startMs: start, durationMs: duration, bytes: 100, sha256: sha ?? "s\(start)-\(duration)")
    }

    @Test func aSegmentHeldWithTheSameStartAndHashIsPresentAndTheRestFormRunsNewestFirst() {
        let primary = (0..<10).map { Self.segment(Int64($0) * 4000) }
        let target = [primary[2], primary[3], primary[7]]
        let plan = ReplicationPlan(primary: primary, target: target, settledBeforeMs: .max)
        #expect(plan.runs.map { $0.map(\.startMs) } == [[32_000, 36_000], [16_000, 20_000, 24_000], [0, 4000]])
        #expect(plan.presentCount == 3)
        #expect(plan.missing == 7)
    }

    @Test func aLocalPartialSegmentDoesNotCoverTheWholeOneSoTheWholeOneIsFetched() {
        let primary = [Self.segment(0), Self.segment(4000)]
        // Recorded here from 1.2 s on (a late start) and until 6.5 s (a stop): neither covers the primary's.
        let target = [Self.segment(1200, 2800), Self.segment(4000, 2500)]
        let plan = ReplicationPlan(primary: primary, target: target, settledBeforeMs: .max)
        #expect(plan.missing == 2)
    }

    @Test func aPeersPartialSegmentCoveredByAWholeOneHereIsNotFetched() {
        // Cross-replication: the peer stopped at 6.5 s and restarted at 9.2 s; this node recorded throughout.
        let primary = [Self.segment(0), Self.segment(4000, 2500), Self.segment(9200, 2800), Self.segment(12_000)]
        let target = [Self.segment(0), Self.segment(4000), Self.segment(8000), Self.segment(12_000)]
        let plan = ReplicationPlan(primary: primary, target: target, settledBeforeMs: .max)
        #expect(plan.missing == 0)
        #expect(plan.percentPresent == 100)
    }

    @Test func coverageComesFromOneSegmentNotFromTwoNeighbours() {
        let primary = [Self.segment(0, 8000)]
        let target = [Self.segment(0), Self.segment(4000)]
        let plan = ReplicationPlan(primary: primary, target: target, settledBeforeMs: .max)
        #expect(plan.missing == 1)
    }

    @Test func aLongEarlierSegmentCoversALaterShortOne() {
        let primary = [Self.segment(5000, 1000)]
        let target = [Self.segment(0, 10_000), Self.segment(2000, 1000)]
        #expect(ReplicationPlan(primary: primary, target: target, settledBeforeMs: .max).missing == 0)
    }

    @Test func segmentsStillBeingRecordedLiveAreLeftAlone() {
        let primary = (0..<5).map { Self.segment(Int64($0) * 4000) }
        let plan = ReplicationPlan(primary: primary, target: [], settledBeforeMs: 12_000)
        #expect(plan.runs.flatMap { $0 }.map(\.startMs) == [0, 4000, 8000])
    }

    @Test func aLongGapIsCutIntoPiecesNewestFirstThatNeverAskForTheSameSegment() {
        // 20 segments of 100 bytes that start and end within seconds (500 ms past), missing one run.
        let primary = (0..<20).map { ReplicationPlanTests.segment(1_700_000_000_500 + Int64($0) * 4000) }
        let plan = ReplicationPlan(primary: primary, target: [], settledBeforeMs: .max)
        let pieces = plan.pieces(maxBytes: 700)
        let sizes: [Int] = pieces.map(\.count)
        #expect(sizes == [6, 7, 7])
        let firsts: [Int64] = pieces.map { $0[0].startMs }
        #expect(firsts == [primary[14].startMs, primary[7].startMs, primary[0].startMs])
        let copied: [Int64] = pieces.flatMap { $0 }.map(\.startMs).sorted()
        #expect(copied == primary.map(\.startMs))
        // What the primary serves for each piece's window: the segments overlapping it (strictly).
        func served(_ piece: [RemoteSegment]) -> [Int64] {
            let (from, duration) = ReplicationPlan.window(of: piece)
            return primary.filter { $0.endMs > from * 1000 && $0.startMs < (from + duration) * 1000 }.map(\.startMs)
        }
        for piece in pieces {
            let starts: [Int64] = piece.map(\.startMs)
            #expect(served(piece) == starts)
        }
        // Oldest first keeps the order; a piece never splits below one segment.
        let oldest = ReplicationPlan(primary: primary, target: [], settledBeforeMs: .max, newestFirst: false)
        let oldestFirsts: [Int64] = oldest.pieces(maxBytes: 700).map { $0[0].startMs }
        #expect(oldestFirsts == [primary[0].startMs, primary[7].startMs, primary[14].startMs])
        #expect(plan.pieces(maxBytes: 1).count == 20)
    }

    @Test func aSegmentShorterThanTheRoundingIsStillAskedFor() {
        let short = ReplicationPlanTests.segment(1_700_000_000_200, 600)
        let (from, duration) = ReplicationPlan.window(of: [short])
        #expect(from * 1000 < short.endMs && (from + duration) * 1000 > short.startMs)
        let aligned = [ReplicationPlanTests.segment(1_700_000_000_000), ReplicationPlanTests.segment(1_700_000_004_000)]
        let window = ReplicationPlan.window(of: aligned)
        #expect(window.from == 1_700_000_000 && window.duration == 8)
    }
}

@Suite struct LiveLoadGuardTests {
    @Test func aBacklogAboveTheLimitOrNewDropsMeanLiveRecordingLags() {
        var guardian = LiveLoadGuard(backlogLimit: 1000)
        // First look: old drops are not blamed on replication; a backlog is.
        #expect(
            guardian.lagging([
                .init(name: "a", backlogBytes: 10, droppedChunks: 5), .init(name: "b", backlogBytes: 5000, droppedChunks: 0),
            ]) == ["b: 5000 bytes wait for the disk"])
        #expect(
            guardian.lagging([.init(name: "a", backlogBytes: 10, droppedChunks: 5), .init(name: "b", backlogBytes: 0, droppedChunks: 0)])
                .isEmpty)
        #expect(
            guardian.lagging([.init(name: "a", backlogBytes: 10, droppedChunks: 8), .init(name: "b", backlogBytes: 0, droppedChunks: 0)])
                == ["a: 3 chunks dropped"])
        // A stream that went away and came back starts afresh.
        #expect(guardian.lagging([]).isEmpty)
        #expect(guardian.lagging([.init(name: "a", backlogBytes: 0, droppedChunks: 9)]).isEmpty)
    }
}

@Suite struct TokenBucketTests {
    @Test func aHoldStopsEvenAnUnlimitedBucketUntilItEnds() async throws {
        let bucket = TokenBucket(bitsPerSecond: nil)
        bucket.hold(for: .milliseconds(300))
        #expect(bucket.isHeld)
        bucket.hold(for: .milliseconds(100))  // an earlier end does not shorten the hold
        let start = ContinuousClock.now
        try await bucket.take(1000)
        #expect(ContinuousClock.now - start >= .milliseconds(290))
        #expect(!bucket.isHeld)
        #expect(bucket.holds == 1)
        #expect(bucket.passedBytes == 1000)
        bucket.hold(for: .milliseconds(10))
        #expect(bucket.holds == 2)
    }

    @Test func theRateIsKeptOverASecond() async throws {
        let bucket = TokenBucket(bitsPerSecond: 8 * 1_000_000)  // 1 MB/s, burst 100 kB
        let start = ContinuousClock.now
        for _ in 0..<10 { try await bucket.take(100_000) }
        // 1 MB minus the 100 kB burst cannot pass in less than 0.9 s.
        #expect(ContinuousClock.now - start >= .milliseconds(850))
    }
}
