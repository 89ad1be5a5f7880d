import AsyncHTTPClient
import EstuaryTLS
import Foundation
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// The replicator of one secondary dvr-node (DESIGN §1, §4.2): it learns the replicated streams from its
/// target's API (`dvr.replicate` with `m4f://` inputs; the first of them that records the stream is its primary,
/// so two dvr-nodes can replicate crosswise), compares the primary's
/// `dvr/segments` with the target's over the target's depth, and copies what is missing —
/// `archive-FROM-DURATION.m4f` from the primary streamed into the target's `dvr/import` — newest gaps
/// first, through one speed limit shared by every stream.
///
/// Guarantees: every copied segment is verified by sha256 by the target before it is stored; a cycle that
/// fails (a node down, a cut connection, 401) changes nothing already stored and is retried with backoff
/// per stream (up to a minute), resuming from what the target then holds (never a whole-range restart,
/// never a duplicate); segments still being recorded live (newer than ``ReplicatorSettings/settleMs``) are
/// left to live recording.
public final class Replicator: Service, Sendable {
    public let settings: ReplicatorSettings
    public let bucket: TokenBucket
    public let registry = PrometheusCollectorRegistry()
    let client: HTTPClient
    let logger: Logger
    private let states = Mutex<[String: StreamState]>([:])
    /// Per-stream limits (`replication_speed`), inside the total one; rebuilt when a stream's speed changes.
    private let streamBuckets = Mutex<[String: TokenBucket]>([:])
    /// The target's lagging streams at the last live check (empty while live recording keeps up).
    private let liveLag = Mutex<[String]>([])
    /// The target's own name (`hostname` of its API), learnt once: a stream's input naming it is the target itself.
    private let targetName = Mutex<String?>(nil)

    /// One stream's replication state, as `GET /status` shows it.
    public struct StreamState: Sendable, Encodable {
        public var primary: String
        public var percent: Double = 0
        public var missingSegments = 0
        public var gaps = 0
        public var copiedSegments = 0
        public var copiedBytes = 0
        public var rejectedSegments = 0
        public var running = false
        public var lastError: String?
        public var lastErrorReason: String?
        public var failures = 0
        public var lastSync: Int64?
        /// Seconds between now and the newest missing segment's end (0 when complete).
        public var lagSeconds: Int64 = 0
        var nextAttempt: ContinuousClock.Instant = .now

        enum CodingKeys: String, CodingKey {
            case primary, percent, gaps, running, failures
            case missingSegments = "missing_segments"
            case copiedSegments = "copied_segments"
            case copiedBytes = "copied_bytes"
            case rejectedSegments = "rejected_segments"
            case lastError = "last_error"
            case lastErrorReason = "last_error_reason"
            case lastSync = "last_sync"
            case lagSeconds = "lag_seconds"
        }
    }

    public init(settings: ReplicatorSettings, logger: Logger, client: HTTPClient = .shared) {
        self.settings = settings
        self.logger = logger
        self.client = client
        self.bucket = TokenBucket(bitsPerSecond: settings.speedLimit)
    }

    /// An HTTP client for `settings`: TLS peers verified against the system's roots plus `tlsCA`. The caller shuts
    /// it down after the replicator stops.
    public static func makeHTTPClient(_ settings: ReplicatorSettings) throws(TLSError) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = try TLSClientTrust.configuration(caFile: settings.tlsCA)
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.decompression = .disabled
        // The replicator retries with its own backoff; a failed connection is reported at once.
        configuration.connectionPool.retryConnectionEstablishment = false
        // AsyncHTTPClient's default (8 per host) would queue the ninth stream's copy behind the first eight.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = settings.connectionsPerNode
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Every replicated stream's state, by name.
    public var status: [String: StreamState] { states.withLock { $0 } }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        await self.cycle()
                        try? await Task.sleep(for: self.settings.interval)
                    }
                }
                group.addTask { await self.watchLiveRecording() }
            }
        }
    }

    /// The target's streams whose live recording lagged at the last check; replication is held meanwhile.
    public var laggingLiveStreams: [String] { liveLag.withLock { $0 } }

    /// While any stream is being copied, checks the target's live recording every
    /// ``ReplicatorSettings/liveCheckInterval`` and holds the speed limit for ``ReplicatorSettings/liveHold``
    /// whenever a recorder lags (``LiveLoadGuard``): replication yields the disk and the network to live media.
    func watchLiveRecording() async {
        var guardian = LiveLoadGuard(backlogLimit: settings.liveBacklogLimit)
        let target = ArchivePeer(base: settings.target, clusterKey: settings.clusterKey, client: client)
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: settings.liveCheckInterval)
            } catch {
                return
            }
            guard states.withLock({ $0.values.contains { $0.running } }) else { continue }
            guard let entries = try? await target.streams() else { continue }
            let samples = entries.compactMap { entry in
                entry.dvr.map {
                    LiveLoadGuard.Sample(
                        name: entry.name, backlogBytes: $0.recordingBacklogBytes ?? 0, droppedChunks: $0.recordingDroppedChunks ?? 0)
                }
            }
            let lagging = guardian.lagging(samples)
            let before = liveLag.withLock { state in
                defer { state = lagging }
                return state
            }
            if !lagging.isEmpty {
                bucket.hold(for: settings.liveHold)
                if before.isEmpty {
                    logger.warning("replicator: the target's live recording lags; replication paused", metadata: ["streams": "\(lagging)"])
                }
            } else if !before.isEmpty {
                logger.info("replicator: the target's live recording caught up; replication resumes")
            }
        }
    }

    /// The stream's own limit (`replication_speed`), nil without one.
    func streamBucket(_ name: String, bitsPerSecond: Int?) -> TokenBucket? {
        streamBuckets.withLock { buckets in
            guard let bitsPerSecond, bitsPerSecond > 0 else {
                buckets[name] = nil
                return nil
            }
            if let bucket = buckets[name], bucket.bytesPerSecond == Double(bitsPerSecond) / 8 { return bucket }
            let bucket = TokenBucket(bitsPerSecond: bitsPerSecond)
            buckets[name] = bucket
            return bucket
        }
    }

    /// One pass over the target's replicated streams (concurrently; they share the speed limit).
    public func cycle() async {
        let target = ArchivePeer(base: settings.target, clusterKey: settings.clusterKey, client: client)
        let entries: [ArchivePeer.StreamEntry]
        do {
            entries = try await target.streams()
        } catch {
            logger.warning("replicator: cannot list the target's streams", metadata: ["error": "\(error)"])
            return
        }
        let ownName = await self.ownName(target)
        let replicated = entries.compactMap { entry -> (ArchivePeer.StreamEntry, [Peer])? in
            guard let dvr = entry.dvr, dvr.replicate else { return nil }
            let peers = entry.inputs.compactMap { input in
                Self.primary(of: input.url, replicationPort: dvr.replicationPort).map { Peer(base: $0.0, name: $0.1) }
            }.filter { !Self.isTarget($0, named: ownName, base: settings.target) }
            return peers.isEmpty ? nil : (entry, peers)
        }
        let names = Set(replicated.map(\.0.name))
        states.withLock { states in for name in states.keys where !names.contains(name) { states[name] = nil } }
        streamBuckets.withLock { buckets in for name in buckets.keys where !names.contains(name) { buckets[name] = nil } }
        await withTaskGroup(of: Void.self) { group in
            for (entry, peers) in replicated {
                let due = states.withLock { states -> Bool in
                    if states[entry.name] == nil { states[entry.name] = StreamState(primary: peers[0].description) }
                    return states[entry.name]!.nextAttempt <= .now
                }
                guard due else { continue }
                group.addTask { await self.replicate(entry, peers: peers, target: target) }
            }
        }
    }

    /// The target's `hostname`, asked once (nil while it cannot be asked).
    func ownName(_ target: ArchivePeer) async -> String? {
        if let known = targetName.withLock({ $0 }) { return known }
        guard let name = try? await target.hostname(), !name.isEmpty else { return nil }
        targetName.withLock { $0 = name }
        return name
    }

    /// Whether `peer` is the target itself: the same base URL, or a host that is the target's name (`dvr-0`) or a
    /// name under it (`dvr-0.dvr`, `dvr-0.dvr.ns.svc.cluster.local`), as when every pod of a StatefulSet lists all
    /// of its pods as lower-priority inputs to replicate crosswise.
    static func isTarget(_ peer: Peer, named name: String?, base: String) -> Bool {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        if peer.base == trimmed { return true }
        guard let name, let host = URLComponents(string: peer.base)?.host else { return false }
        return host == name || host.hasPrefix(name + ".")
    }

    /// A node that may hold a replicated stream's archive: one of the stream's `m4f://` inputs.
    struct Peer: Sendable, CustomStringConvertible {
        /// `http(s)://host:port` (the replication port when the stream names one).
        var base: String
        /// The stream's name on that node.
        var name: String
        var description: String { "\(base)/\(name)" }
    }

    /// `m4f://host:port/name` → (`http://host:port'`, `name`), with the replication port when given;
    /// `m4fs://` → `https://` (the primary's HTTPS listener).
    static func primary(of url: String, replicationPort: Int?) -> (String, String)? {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else { return nil }
        let port = replicationPort ?? components.port ?? 8080
        let name = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !name.isEmpty else { return nil }
        return ("\(components.scheme == "m4fs" ? "https" : "http")://\(host):\(port)", name)
    }

    private func update(_ name: String, _ change: (inout StreamState) -> Void) {
        states.withLock { states in
            guard var state = states[name] else { return }
            change(&state)
            states[name] = state
        }
    }

    /// The first of `peers` (the stream's `m4f://` inputs, in priority order) that records the stream: an
    /// ingest node without archive (404) or a peer that is down is passed over, so that two dvr-nodes that
    /// each record live from ingest and list each other as a lower-priority input replicate crosswise.
    /// When none answers, the most telling error is thrown (a refusal or a damaged answer before "down",
    /// "down" before "not recorded there").
    private func archiveSource(
        _ peers: [Peer], fromSeconds: Int64
    ) async throws(ReplicationError) -> (ArchivePeer, Peer, [RemoteSegment]) {
        var errors: [ReplicationError] = []
        for peer in peers {
            let primary = ArchivePeer(base: peer.base, clusterKey: settings.clusterKey, client: client)
            do {
                return (primary, peer, try await primary.segments(peer.name, fromSeconds: fromSeconds))
            } catch {
                errors.append(error)
            }
        }
        let rank = ["not_found": 2, "unreachable": 1]
        throw errors.min { rank[$0.reason, default: 0] < rank[$1.reason, default: 0] } ?? ReplicationError("not_found", "no m4f:// input")
    }

    /// Copies one piece (consecutive segments) from `primary` into `target` through the speed limits.
    private func copy(
        _ run: [RemoteSegment], of entry: ArchivePeer.StreamEntry, from primary: ArchivePeer, named primaryName: String,
        into target: ArchivePeer, counting received: ByteCount
    ) async throws {
        let (from, duration) = ReplicationPlan.window(of: run)
        let response = try await primary.archive(primaryName, from: from, duration: duration)
        let bucket = self.bucket
        let own = streamBucket(entry.name, bitsPerSecond: entry.dvr?.replicationSpeed)
        let body = response.body.map { chunk -> ByteBuffer in
            received.add(chunk.readableBytes)
            try await own?.take(chunk.readableBytes)
            try await bucket.take(chunk.readableBytes)
            return chunk
        }
        let result = try await target.importArchive(entry.name, body: body)
        let copiedBytes = run.reduce(0) { $0 + $1.bytes }
        update(entry.name) { state in
            state.copiedSegments += result.stored
            state.copiedBytes += result.stored > 0 ? copiedBytes : 0
            state.rejectedSegments += result.rejected
        }
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "estuary_replicator_segments_total", unitName: "", helpText: "Segments copied into the target"),
            labels: [("stream", entry.name)]
        ).increment(by: Int64(result.stored))
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "estuary_replicator_bytes_total", unitName: "", helpText: "Archive bytes copied into the target"),
            labels: [("stream", entry.name)]
        ).increment(by: Int64(result.stored > 0 ? copiedBytes : 0))
        if result.rejected > 0 {
            let detail = result.segments.first { $0.status == "rejected" }.map { "\($0.startMs): \($0.detail ?? "")" } ?? ""
            throw ReplicationError(
                "rejected", "\(result.rejected) segment(s) of \(entry.name) failed verification (\(detail)); re-fetching")
        }
        if let error = result.error { throw ReplicationError("http_error", "import of \(entry.name) ended early: \(error)") }
    }

    private func replicate(_ entry: ArchivePeer.StreamEntry, peers: [Peer], target: ArchivePeer) async {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let depth = Int64(entry.dvr?.expiration ?? 0)
        let fromSeconds = depth > 0 ? now / 1000 - depth : 0
        let received = ByteCount()
        do {
            let (primary, peer, source) = try await archiveSource(peers, fromSeconds: fromSeconds)
            let primaryName = peer.name
            let held = try await target.segments(entry.name, fromSeconds: fromSeconds)
            var plan = ReplicationPlan(
                primary: source, target: held, settledBeforeMs: now - settings.settleMs, newestFirst: settings.newestFirst)
            update(entry.name) { state in
                state.primary = peer.description
                state.percent = plan.percentPresent
                state.missingSegments = plan.missing
                state.gaps = plan.runs.count
                state.running = plan.missing > 0
                state.lagSeconds = plan.runs.flatMap { $0 }.map(\.endMs).max().map { (now - $0) / 1000 } ?? 0
            }
            await target.reportProgress(entry.name, percent: plan.percentPresent, running: plan.missing > 0)
            // Pieces of the gaps are copied `copiesPerStream` at a time, in plan order; the first failure ends the
            // attempt (the other pieces' whole segments are kept, and the next attempt plans from what is there).
            let pieces = plan.pieces(maxBytes: settings.pieceBytes)
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                func startNext() {
                    guard next < pieces.count else { return }
                    let run = pieces[next]
                    next += 1
                    group.addTask {
                        try await self.copy(run, of: entry, from: primary, named: primaryName, into: target, counting: received)
                    }
                }
                for _ in 0..<settings.copiesPerStream { startNext() }
                while try await group.next() != nil { startNext() }
            }
            // What the target holds now.
            let after = try await target.segments(entry.name, fromSeconds: fromSeconds)
            plan = ReplicationPlan(primary: source, target: after, settledBeforeMs: now - settings.settleMs)
            update(entry.name) { state in
                state.percent = plan.percentPresent
                state.missingSegments = plan.missing
                state.gaps = plan.runs.count
                state.running = false
                state.lastError = nil
                state.lastErrorReason = nil
                state.failures = 0
                state.lastSync = now / 1000
                state.lagSeconds = 0
                state.nextAttempt = .now
            }
            await target.reportProgress(entry.name, percent: plan.percentPresent, running: false)
        } catch {
            let failure = error as? ReplicationError ?? ReplicationError("unreachable", "\(error)")
            let (failures, first) = states.withLock { states -> (Int, Bool) in
                guard var state = states[entry.name] else { return (1, true) }
                let first = state.lastError != failure.description
                // An attempt that received archive before failing (a primary killed mid-copy) made progress: the
                // backoff starts again from its shortest step instead of growing toward a minute.
                if received.value > 0 { state.failures = 0 }
                state.failures += 1
                state.running = false
                state.lastError = failure.description
                state.lastErrorReason = failure.reason
                let backoff = min(60.0, pow(2, Double(min(state.failures, 6))))
                state.nextAttempt = .now + .seconds(backoff)
                states[entry.name] = state
                return (state.failures, first)
            }
            if first {
                logger.error(
                    "replicator: \(entry.name) failed; retrying with backoff",
                    metadata: ["reason": .string(failure.reason), "detail": .string(failure.detail), "failures": "\(failures)"])
            }
        }
    }

    /// The Prometheus text: per-stream gauges refreshed, then the registry.
    public func metricsText() -> [UInt8] {
        for (name, state) in status {
            func gauge(_ metric: String, _ help: String, _ value: Double) {
                registry.makeGauge(
                    descriptor: MetricNameDescriptor(metricName: metric, unitName: "", helpText: help), labels: [("stream", name)]
                ).set(to: value)
            }
            gauge("estuary_replicator_gaps", "Runs of segments missing on the target", Double(state.gaps))
            gauge("estuary_replicator_missing_segments", "Segments missing on the target", Double(state.missingSegments))
            gauge("estuary_replicator_percent", "Percent of the primary's archive (over the depth) present", state.percent)
            gauge("estuary_replicator_lag_seconds", "Age of the newest missing archive", Double(state.lagSeconds))
        }
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "estuary_replicator_limit_bits", unitName: "", helpText: "The speed limit (0: none)"),
            labels: []
        ).set(to: Double(settings.speedLimit ?? 0))
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "estuary_replicator_passed_bytes", unitName: "", helpText: "Bytes through the limit"),
            labels: []
        ).reset()
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "estuary_replicator_passed_bytes", unitName: "", helpText: "Bytes through the limit"),
            labels: []
        ).increment(by: Int64(bucket.passedBytes))
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "estuary_replicator_live_lagging", unitName: "",
                helpText: "1 while replication is held because the target's live recording lags"),
            labels: []
        ).set(to: bucket.isHeld ? 1 : 0)
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "estuary_replicator_live_holds", unitName: "",
                helpText: "Times replication was held for the target's live recording"),
            labels: []
        ).set(to: Double(bucket.holds))
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}

/// Bytes counted from concurrent callbacks.
final class ByteCount: Sendable {
    private let count = Mutex(0)
    func add(_ bytes: Int) { count.withLock { $0 += bytes } }
    var value: Int { count.withLock { $0 } }
}
