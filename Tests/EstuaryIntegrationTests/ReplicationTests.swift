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
