import AsyncHTTPClient
import EstuaryConfig
import EstuaryDVR
import EstuaryNode
import EstuaryReplication
import EstuaryTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Writes `count` synthetic segments (opaque boxes, `size` bytes each, 4 s apart) into an archive.
func seedArchive(root: String, name: String, count: Int, size: Int, endingAtMs end: Int64) throws -> [SegmentRecord] {
    let archive = try StreamArchive.open(root: root, name: name)
    func box(_ type: String, _ payload: Int, _ fill: UInt8) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(8 + payload))
        buffer.writeString(type)
        buffer.writeRepeatingByte(fill, count: payload)
        return buffer
    }
    var initBytes = box("ftyp", 16, 1)
    var moov = box("moov", 100, 1)
    initBytes.writeBuffer(&moov)
    let initID = try archive.storeInit(initBytes)
    let start = end - Int64(count) * 4000
    return try (0..<count).map { index in
        var fragment = box("styp", 8, 0)
        var moof = box("moof", 64, UInt8(index % 251))
        var mdat = box("mdat", size - 88, UInt8((index * 7) % 251))
        fragment.writeBuffer(&moof)
        fragment.writeBuffer(&mdat)
        return try archive.write(fragments: [fragment], startMs: start + Int64(index) * 4000, durationMs: 4000, initID: initID)
    }
}

extension IntegrationTests {
    /// The replicator against two real dvr-nodes on loopback.
    @Suite(.serialized) struct ReplicationTests {
        static func replicator(target: Int, limit: Int? = nil, clusterKey: String? = nil) -> Replicator {
            var logger = Logger(label: "test.replicator")
            logger.logLevel = .critical
            return Replicator(
                settings: ReplicatorSettings(
                    target: "http://127.0.0.1:\(target)", speedLimit: limit, clusterKey: clusterKey, interval: .milliseconds(500),
                    settleMs: 9_000),
                logger: logger)
        }

        /// Runs `replicator` while `body` runs.
        static func withReplicator<T: Sendable>(_ replicator: Replicator, _ body: () async throws -> T) async throws -> T {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await replicator.run() }
                defer { group.cancelAll() }
                return try await body()
            }
        }

        @Test func aSecondaryStartedLateBackfillsAndEndsIdentical() async throws {
            try await withTemporaryDirectory { directory in
                let key = "replication-key"
                let primaryStreams = [recorded("cam", root: directory.appendingPathComponent("a").path)]
                try await withNode(streams: primaryStreams, clusterKey: key, logLevel: .error) { _, primary in
                    try await waitUntil("the primary records 30 s", timeout: .seconds(60)) {
                        (try? await archiveRanges(port: primary, "cam").first?.duration ?? 0) ?? 0 >= 30
                    }
                    let secondaryStreams = [
                        recorded("cam", root: directory.appendingPathComponent("b").path, input: "m4f://127.0.0.1:\(primary)/cam") {
                            $0.replicate = true
                        }
                    ]
                    try await withNode(streams: secondaryStreams, clusterKey: key, logLevel: .error) { secondary, port in
                        let replicator = Self.replicator(target: port, clusterKey: key)
                        try await Self.withReplicator(replicator) {
                            // Settled archive (older than 12 s) must match exactly, sha256 by sha256.
                            do {
                                try await waitUntil("the secondary matches the primary", timeout: .seconds(90)) {
                                    let settled = Int64(Date().timeIntervalSince1970 * 1000) - 12_000
                                    guard let a = try? await archiveSegments(port: primary, "cam", key: key),
                                        let b = try? await archiveSegments(port: port, "cam", key: key)
                                    else { return false }
                                    let left = a.filter { $0.startMs + $0.durationMs <= settled }
                                    let right = b.filter { $0.startMs + $0.durationMs <= settled }
                                    return left.count >= 9 && left == right
                                }
                            } catch {
                                let a = (try? await archiveSegments(port: primary, "cam", key: key)) ?? []
                                let b = (try? await archiveSegments(port: port, "cam", key: key)) ?? []
                                print("A", a.map { "\($0.startMs) \($0.durationMs) \($0.sha256.prefix(8))" })
                                print("B", b.map { "\($0.startMs) \($0.durationMs) \($0.sha256.prefix(8))" })
                                print("R", replicator.status)
                                throw error
                            }
                        }
                        let report = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/streams/cam").body
                        #expect(report.contains("\"dvr_replication\""), "\(report)")
                        let state = try #require(replicator.status["cam"])
                        #expect(state.copiedSegments >= 6, "copied \(state.copiedSegments)")
                        #expect(secondary.manager.stream(named: "cam")?.recorder?.status.segmentsWritten ?? 0 >= 1)
                    }
                }
            }
        }

        @Test func aSecondaryDownForTwentySecondsHasItsGapFilled() async throws {
            try await withTemporaryDirectory { directory in
                let primaryStreams = [recorded("cam", root: directory.appendingPathComponent("a").path)]
                try await withNode(streams: primaryStreams, logLevel: .error) { _, primary in
                    let secondaryPort = try await freeTCPPort()
                    let secondary = NodeControl(
                        streams: [
                            recorded("cam", root: directory.appendingPathComponent("b").path, input: "m4f://127.0.0.1:\(primary)/cam") {
                                $0.replicate = true
                            }
                        ], port: secondaryPort)
                    try await secondary.start()
                    let replicator = Self.replicator(target: secondaryPort)
                    try await Self.withReplicator(replicator) {
                        try await waitUntil("the secondary records", timeout: .seconds(30)) {
                            (try? await archiveSegments(port: secondaryPort, "cam").count) ?? 0 >= 2
                        }
                        await secondary.stop()
                        let stoppedAt = ContinuousClock.now
                        try await Task.sleep(until: stoppedAt + .seconds(20))
                        try await secondary.start()
                        // Everything settled since before the outage must end identical on both nodes.
                        try await waitUntil("the gap is filled", timeout: .seconds(90)) {
                            let settled = Int64(Date().timeIntervalSince1970 * 1000) - 12_000
                            guard let a = try? await archiveSegments(port: primary, "cam"),
                                let b = try? await archiveSegments(port: secondaryPort, "cam")
                            else { return false }
                            let left = a.filter { $0.startMs + $0.durationMs <= settled }
                            let right = b.filter { $0.startMs + $0.durationMs <= settled }
                            return left.count >= 8 && left == right
                        }
                        let ranges = try await archiveRanges(port: secondaryPort, "cam")
                        #expect(ranges.count == 1, "the secondary still has gaps: \(ranges)")
                    }
                    await secondary.stop()
                }
            }
        }

        @Test func theSpeedLimitHoldsAcrossStreamsAndLiveRecordingLosesNothing() async throws {
            try await withTemporaryDirectory { directory in
                let primaryRoot = directory.appendingPathComponent("a").path
                let secondaryRoot = directory.appendingPathComponent("b").path
                let now = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
                for index in 0..<5 {
                    _ = try seedArchive(root: primaryRoot, name: "s\(index)", count: 30, size: 1_000_000, endingAtMs: now)
                }
                let idle = try await freeUDPPort()
                var primaryStreams = (0..<5).map {
                    recorded("s\($0)", root: primaryRoot, input: "udp://127.0.0.1:\(idle + $0)", timeout: 600)
                }
                primaryStreams.append(stream("live", "fake://live"))
                try await withNode(streams: primaryStreams, logLevel: .error) { _, primary in
                    var secondaryStreams = (0..<5).map { index in
                        recorded("s\(index)", root: secondaryRoot, input: "m4f://127.0.0.1:\(primary)/s\(index)", timeout: 600) {
                            $0.replicate = true
                        }
                    }
                    secondaryStreams.append(recorded("live", root: secondaryRoot, input: "m4f://127.0.0.1:\(primary)/live"))
                    try await withNode(streams: secondaryStreams, logLevel: .error) { secondary, port in
                        try await waitUntil("the live stream records") {
                            secondary.manager.stream(named: "live")?.recorder?.status.segmentsWritten ?? 0 >= 1
                        }
                        let archives = try await (0..<5).asyncMap {
                            try await secondary.manager.archives.archive(root: secondaryRoot, name: "s\($0)")
                        }
                        let limit = 20_000_000
                        let replicator = Self.replicator(target: port, limit: limit)
                        let (bytes, seconds) = try await Self.withReplicator(replicator) {
                            try await waitUntil("copying begins") { archives.reduce(0) { $0 + $1.totalBytes } > 0 }
                            // Bytes through the limit, counted exactly (the archives grow a whole segment at a time).
                            let startBytes = replicator.bucket.passedBytes
                            let started = ContinuousClock.now
                            try await Task.sleep(for: .seconds(30))
                            let elapsed = ContinuousClock.now - started
                            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                            return (replicator.bucket.passedBytes - startBytes, seconds)
                        }
                        let rate = Double(bytes) * 8 / seconds
                        // The limit is a ceiling: never more than 5 % over it. Under it, a loaded 2-core machine can leave the
                        // replicator a little short (18.98 Mbit/s was seen in CI), so the floor only proves the limit is what binds.
                        #expect(rate <= Double(limit) * 1.05, "replicated at \(rate / 1e6) Mbit/s over a 20 Mbit/s limit")
                        #expect(rate >= Double(limit) * 0.85, "replicated at only \(rate / 1e6) Mbit/s under a 20 Mbit/s limit")
                        let live = try #require(secondary.manager.stream(named: "live")?.recorder?.status)
                        #expect(live.droppedChunks == 0 && live.writeErrors == 0, "live recording suffered: \(live)")
                        #expect(try await archiveRanges(port: port, "live").count == 1, "the live archive has a gap")
                    }
                }
            }
        }

        /// `replication_port` opens an archive-only listener (DESIGN §4.3): the segment list and the stored bytes,
        /// nothing else; a secondary whose dvr block names that port is filled through it.
        @Test func theReplicationListenerServesOnlyTheArchiveAndFeedsTheReplicator() async throws {
            try await withTemporaryDirectory { directory in
                let key = "replication-listener-key"
                let now = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
                let primaryRoot = directory.appendingPathComponent("a").path
                let seeded = try seedArchive(root: primaryRoot, name: "s", count: 4, size: 10_000, endingAtMs: now)
                let idle = try await freeUDPPort()
                let primaryStreams = [recorded("s", root: primaryRoot, input: "udp://127.0.0.1:\(idle)", timeout: 600)]
                try await withNode(
                    streams: primaryStreams, clusterKey: key, logLevel: .critical, options: { $0.replicationPort = 0 }
                ) { primary, primaryPort in
                    try await waitUntil("the replication listener is up") { primary.replicationPort != nil }
                    let replicationPort = try #require(primary.replicationPort)
                    let base = "http://127.0.0.1:\(replicationPort)"
                    #expect(try await httpStatus("\(base)/healthz") == 200)
                    let api = try await httpGet("\(base)/streamer/api/v3/streams")
                    #expect(api.status == 404 && api.body.contains("not_on_replication_listener"), "\(api.status) \(api.body)")
                    #expect(try await httpStatus("\(base)/s/index.m3u8") == 404, "no live playback on the replication port")
                    #expect(try await httpSend(.PUT, "\(base)/streamer/api/v3/streams/x", json: "{}").status == 404)
                    #expect(try await archiveSegments(port: replicationPort, "s", key: key).map(\.sha256) == seeded.map(\.sha256Hex))
                    #expect(try await httpStatus("http://127.0.0.1:\(primaryPort)/streamer/api/v3/streams") == 200)

                    let secondaryStreams = [
                        recorded(
                            "s", root: directory.appendingPathComponent("b").path, input: "m4f://127.0.0.1:\(primaryPort)/s", timeout: 600
                        ) {
                            $0.replicate = true
                            $0.replicationPort = replicationPort
                        }
                    ]
                    try await withNode(streams: secondaryStreams, clusterKey: key, logLevel: .critical) { _, port in
                        let replicator = Self.replicator(target: port, clusterKey: key)
                        try await Self.withReplicator(replicator) {
                            try await waitUntil("the archive is copied through the replication listener", timeout: .seconds(30)) {
                                (try? await archiveSegments(port: port, "s", key: key).map(\.sha256)) == seeded.map(\.sha256Hex)
                            }
                        }
                        #expect(replicator.status["s"]?.primary.contains(":\(replicationPort)/") == true, "\(replicator.status)")
                    }
                }
            }
        }

        /// The primary dvr-node process is SIGKILLed ten times while the secondary is being filled, each time after the
        /// target has stored more: every copy resumes from what the target holds, and the target ends with exactly the
        /// primary's segments, no duplicates, no damaged file, and no whole-range restarts (bytes moved stay near the
        /// archive's size).
        @Test func aPrimaryKilledTenTimesDuringBackfillEndsIdenticalWithoutDuplicates() async throws {
            let executable = try TestProcesses.binary("dvr-node")
            try await withTemporaryDirectory { directory in
                let primaryRoot = directory.appendingPathComponent("a").path
                let secondaryRoot = directory.appendingPathComponent("b").path
                let now = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
                let seeded = try seedArchive(root: primaryRoot, name: "cam", count: 120, size: 256_000, endingAtMs: now)
                let total = seeded.reduce(0) { $0 + $1.bytes }
                let idle = try await freeUDPPort()
                let yaml = directory.appendingPathComponent("primary.yaml")
                try """
                streams:
                  - {name: cam, inputs: [{url: "udp://127.0.0.1:\(idle)", source_timeout: 600}], dvr: {root: \(primaryRoot)}}

                """.write(to: yaml, atomically: true, encoding: .utf8)
                let primaryPort = try await freeTCPPort()
                let processes = TestProcesses()
                defer { processes.stopAll() }
                let log = directory.appendingPathComponent("primary.log").path
                func startPrimary() async throws {
                    try processes.start("primary", executable, ["--config", yaml.path, "--http-port", "\(primaryPort)"], log: log)
                    try await waitUntil("the primary answers") {
                        (try? await httpGet("http://127.0.0.1:\(primaryPort)/healthz").status) == 200
                    }
                }
                try await startPrimary()
                let secondaryStreams = [
                    recorded("cam", root: secondaryRoot, input: "m4f://127.0.0.1:\(primaryPort)/cam", timeout: 600) { $0.replicate = true }
                ]
                var generator = SeededGenerator(seed: 7)
                try await withNode(streams: secondaryStreams, logLevel: .critical) { _, port in
                    let replicator = Self.replicator(target: port, limit: 16_000_000)
                    try await Self.withReplicator(replicator) {
                        var held = 0
                        for round in 0..<10 {
                            // Kill only once the target has stored at least four more segments: the copy is mid-way.
                            try await waitUntil("round \(round): the copy progresses", timeout: .seconds(60)) {
                                ((try? await archiveSegments(port: port, "cam").count) ?? 0) >= held + 4
                            }
                            try await Task.sleep(for: .milliseconds(Int.random(in: 0...400, using: &generator)))
                            processes.kill("primary")
                            held = try await archiveSegments(port: port, "cam").count
                            #expect(held < seeded.count, "round \(round): the copy finished before the kill")
                            try await startPrimary()
                        }
                        try await waitUntil("the target holds the primary's archive", timeout: .seconds(120)) {
                            (try? await archiveSegments(port: port, "cam").map(\.sha256)) == seeded.map(\.sha256Hex)
                        }
                        let moved = replicator.bucket.passedBytes
                        print("primary SIGKILLed 10 times during backfill: \(moved) bytes moved for a \(total)-byte archive")
                        #expect(
                            Double(moved) < Double(total) * 1.5,
                            "\(moved) bytes moved for a \(total)-byte archive: copies restarted from the beginning")
                    }
                }
                // Every stored file is whole, once: the index lists each start once and each file matches its sha256.
                let archive = try StreamArchive.open(root: secondaryRoot, name: "cam")
                let records = try archive.records(fromMs: 0, toMs: .max)
                #expect(records.map(\.startMs) == seeded.map(\.startMs), "duplicates or holes: \(records.count) segments")
                for record in records {
                    let data = try Data(contentsOf: URL(fileURLWithPath: archive.path(of: record)))
                    #expect(sha256Hex(Array(data)) == record.sha256Hex, "\(record.fileName) is damaged")
                }
            }
        }

        /// Cross-replication: two dvr-nodes each record live from the ingest and list each other as a lower-priority
        /// input; each has its own replicator. Each is down for a different 15 s window; afterwards both hold the union,
        /// segment for segment identical, in one range.
        @Test func twoNodesReplicatingCrosswiseEndWithTheSameFullArchive() async throws {
            try await withTemporaryDirectory { directory in
                try await withNode(streams: [stream("cam", "fake://cam")], logLevel: .error) { _, ingest in
                    let portA = try await freeTCPPort()
                    let portB = try await freeTCPPort()
                    func node(_ root: String, peer: Int, port: Int) -> NodeControl {
                        var config = recorded("cam", root: directory.appendingPathComponent(root).path) { $0.replicate = true }
                        config.inputs = [
                            InputConfig(url: "m4f://127.0.0.1:\(ingest)/cam", sourceTimeout: 3, priority: 0),
                            InputConfig(url: "m4f://127.0.0.1:\(peer)/cam", sourceTimeout: 3, priority: 1),
                        ]
                        return NodeControl(streams: [config], port: port)
                    }
                    let a = node("a", peer: portB, port: portA)
                    let b = node("b", peer: portA, port: portB)
                    try await a.start()
                    try await b.start()
                    let replicatorA = Self.replicator(target: portA)
                    let replicatorB = Self.replicator(target: portB)
                    do {
                        try await Self.withReplicator(replicatorA) {
                            try await Self.withReplicator(replicatorB) {
                                for (label, down) in [("a", a), ("b", b)] {
                                    try await waitUntil("both record before \(label) goes down", timeout: .seconds(30)) {
                                        let countA = (try? await archiveSegments(port: portA, "cam").count) ?? 0
                                        let countB = (try? await archiveSegments(port: portB, "cam").count) ?? 0
                                        return countA >= 3 && countB >= 3
                                    }
                                    await down.stop()
                                    try await Task.sleep(for: .seconds(15))
                                    try await down.start()
                                }
                                do {
                                    try await waitUntil("both hold the same archive in one range", timeout: .seconds(120)) {
                                        let settled = Int64(Date().timeIntervalSince1970 * 1000) - 12_000
                                        guard let left = try? await archiveSegments(port: portA, "cam"),
                                            let right = try? await archiveSegments(port: portB, "cam"),
                                            let rangesA = try? await archiveRanges(port: portA, "cam"),
                                            let rangesB = try? await archiveRanges(port: portB, "cam")
                                        else { return false }
                                        let settledA = left.filter { $0.startMs + $0.durationMs <= settled }
                                        let settledB = right.filter { $0.startMs + $0.durationMs <= settled }
                                        return settledA.count >= 12 && settledA == settledB && rangesA.count == 1 && rangesB.count == 1
                                    }
                                } catch {
                                    let left = (try? await archiveSegments(port: portA, "cam")) ?? []
                                    let right = (try? await archiveSegments(port: portB, "cam")) ?? []
                                    print("A", left.map { "\($0.startMs) \($0.durationMs) \($0.sha256.prefix(8))" })
                                    print("B", right.map { "\($0.startMs) \($0.durationMs) \($0.sha256.prefix(8))" })
                                    print("RA", replicatorA.status, "RB", replicatorB.status)
                                    throw error
                                }
                            }
                        }
                    } catch {
                        await a.stop()
                        await b.stop()
                        throw error
                    }
                    #expect((replicatorA.status["cam"]?.copiedSegments ?? 0) >= 2, "A filled nothing: \(replicatorA.status)")
                    #expect((replicatorB.status["cam"]?.copiedSegments ?? 0) >= 2, "B filled nothing: \(replicatorB.status)")
                    #expect(replicatorA.status["cam"]?.primary.contains(":\(portB)/") == true, "\(replicatorA.status)")
                    await a.stop()
                    await b.stop()
                }
            }
        }

        /// While the target reports live media waiting for its disk, the replicator moves nothing; when the backlog
        /// clears, copying resumes.
        @Test func copyingPausesWhileTheTargetsLiveRecordingLags() async throws {
            try await withTemporaryDirectory { directory in
                let primaryRoot = directory.appendingPathComponent("a").path
                let now = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
                _ = try seedArchive(root: primaryRoot, name: "s", count: 100, size: 250_000, endingAtMs: now)
                let idle = try await freeUDPPort()
                let primaryStreams = [recorded("s", root: primaryRoot, input: "udp://127.0.0.1:\(idle)", timeout: 600)]
                try await withNode(streams: primaryStreams, logLevel: .critical) { _, primary in
                    let target = LaggingTarget(primary: "m4f://127.0.0.1:\(primary)/s")
                    let ports = AsyncStream.makeStream(of: Int.self)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await target.run { ports.continuation.yield($0) } }
                        defer { group.cancelAll() }
                        var iterator = ports.stream.makeAsyncIterator()
                        let port = try #require(await iterator.next())
                        // 8 Mbit/s: the 25 MB archive takes 25 s, so the copy is still running throughout.
                        let replicator = Self.replicator(target: port, limit: 8_000_000)
                        try await Self.withReplicator(replicator) {
                            try await waitUntil("copying begins") { target.imported.withLock { $0 } > 500_000 }
                            target.backlog.withLock { $0 = 10 << 20 }
                            try await waitUntil("the replicator pauses", timeout: .seconds(10)) { replicator.bucket.isHeld }
                            #expect(replicator.laggingLiveStreams.first?.contains("bytes wait for the disk") == true)
                            // Whatever was in flight lands; then nothing moves while the backlog lasts.
                            try await Task.sleep(for: .seconds(1))
                            let passed = replicator.bucket.passedBytes
                            let observed = ContinuousClock.now
                            try await waitUntil("3 s of backlog") { ContinuousClock.now - observed >= .seconds(3) }
                            #expect(replicator.bucket.passedBytes == passed, "bytes passed while the live recording lagged")
                            #expect(replicator.bucket.isHeld)
                            target.backlog.withLock { $0 = 0 }
                            try await waitUntil("copying resumes", timeout: .seconds(15)) {
                                replicator.bucket.passedBytes > passed + 500_000
                            }
                            #expect(replicator.bucket.holds == 1)
                        }
                    }
                }
            }
        }

        @Test func aWrongKeyIsReportedAndRetriedWithBackoff() async throws {
            try await withTemporaryDirectory { directory in
                let now = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
                _ = try seedArchive(root: directory.appendingPathComponent("a").path, name: "s", count: 5, size: 10_000, endingAtMs: now)
                let idle = try await freeUDPPort()
                let primaryStreams = [
                    recorded("s", root: directory.appendingPathComponent("a").path, input: "udp://127.0.0.1:\(idle)", timeout: 600)
                ]
                try await withNode(streams: primaryStreams, clusterKey: "right", logLevel: .critical) { _, primary in
                    let secondaryStreams = [
                        recorded("s", root: directory.appendingPathComponent("b").path, input: "m4f://127.0.0.1:\(primary)/s", timeout: 600)
                        {
                            $0.replicate = true
                        }
                    ]
                    try await withNode(streams: secondaryStreams, logLevel: .critical) { _, port in
                        let replicator = Self.replicator(target: port, clusterKey: "wrong")
                        try await Self.withReplicator(replicator) {
                            try await waitUntil("the 401 is reported") { replicator.status["s"]?.lastErrorReason == "unauthorized" }
                            try await Task.sleep(for: .seconds(12))
                        }
                        let state = try #require(replicator.status["s"])
                        #expect(state.lastError?.contains("cluster_key") == true, "\(state.lastError ?? "")")
                        #expect(state.failures >= 2 && state.failures <= 5, "\(state.failures) attempts in 12 s: no backoff")
                    }
                }
            }
        }

        @Test func aSegmentThatFailsVerificationIsRejectedThenRefetched() async throws {
            try await withTemporaryDirectory { directory in
                let primaryRoot = directory.appendingPathComponent("a").path
                let now = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
                let seeded = try seedArchive(root: primaryRoot, name: "s", count: 6, size: 50_000, endingAtMs: now)
                // Damage one stored segment on the primary: its bytes no longer match its sha256.
                let archive = try StreamArchive.open(root: primaryRoot, name: "s")
                let damagedPath = archive.path(of: seeded[2])
                let original = try Data(contentsOf: URL(fileURLWithPath: damagedPath))
                var damaged = original
                damaged[damaged.count / 2] ^= 0xFF
                try damaged.write(to: URL(fileURLWithPath: damagedPath))
                let idle = try await freeUDPPort()
                let primaryStreams = [recorded("s", root: primaryRoot, input: "udp://127.0.0.1:\(idle)", timeout: 600)]
                try await withNode(streams: primaryStreams, logLevel: .critical) { _, primary in
                    let secondaryStreams = [
                        recorded("s", root: directory.appendingPathComponent("b").path, input: "m4f://127.0.0.1:\(primary)/s", timeout: 600)
                        {
                            $0.replicate = true
                        }
                    ]
                    try await withNode(streams: secondaryStreams, logLevel: .critical) { _, port in
                        let replicator = Self.replicator(target: port)
                        try await Self.withReplicator(replicator) {
                            try await waitUntil("the damaged segment is rejected") { (replicator.status["s"]?.rejectedSegments ?? 0) >= 1 }
                            let copied = try await archiveSegments(port: port, "s")
                            #expect(!copied.contains { $0.startMs == seeded[2].startMs }, "a damaged segment was stored")
                            #expect(replicator.status["s"]?.lastErrorReason == "rejected")
                            // The primary's file is repaired: the next attempt fetches it again and succeeds.
                            try original.write(to: URL(fileURLWithPath: damagedPath))
                            try await waitUntil("the segment is re-fetched", timeout: .seconds(30)) {
                                (try? await archiveSegments(port: port, "s").map(\.sha256)) == seeded.map(\.sha256Hex)
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
