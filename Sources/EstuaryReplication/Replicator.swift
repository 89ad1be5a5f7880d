import AsyncHTTPClient
import EstuaryTLS
import Foundation
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// The replicator of one secondary dvr-node (DESIGN §1, §4.2): it learns the replicated streams from its
/// target's API (`dvr.replicate` with an `m4f://primary/name` input), compares the primary's
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
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Every replicated stream's state, by name.
    public var status: [String: StreamState] { states.withLock { $0 } }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.cycle()
                try? await Task.sleep(for: self.settings.interval)
            }
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
        let replicated = entries.compactMap { entry -> (ArchivePeer.StreamEntry, String, String)? in
            guard let dvr = entry.dvr, dvr.replicate,
                let input = entry.inputs.first(where: { $0.url.hasPrefix("m4f://") || $0.url.hasPrefix("m4fs://") }),
                let (base, name) = Self.primary(of: input.url, replicationPort: dvr.replicationPort)
            else { return nil }
            return (entry, base, name)
        }
        let names = Set(replicated.map(\.0.name))
        states.withLock { states in for name in states.keys where !names.contains(name) { states[name] = nil } }
        await withTaskGroup(of: Void.self) { group in
            for (entry, base, primaryName) in replicated {
                let due = states.withLock { states -> Bool in
                    if states[entry.name] == nil { states[entry.name] = StreamState(primary: "\(base)/\(primaryName)") }
                    return states[entry.name]!.nextAttempt <= .now
                }
                guard due else { continue }
                group.addTask { await self.replicate(entry, primaryBase: base, primaryName: primaryName, target: target) }
            }
        }
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

    private func replicate(_ entry: ArchivePeer.StreamEntry, primaryBase: String, primaryName: String, target: ArchivePeer) async {
        let primary = ArchivePeer(base: primaryBase, clusterKey: settings.clusterKey, client: client)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let depth = Int64(entry.dvr?.expiration ?? 0)
        let fromSeconds = depth > 0 ? now / 1000 - depth : 0
        do {
            let source = try await primary.segments(primaryName, fromSeconds: fromSeconds)
            let held = try await target.segments(entry.name, fromSeconds: fromSeconds)
            var plan = ReplicationPlan(
                primary: source, target: held, settledBeforeMs: now - settings.settleMs, newestFirst: settings.newestFirst)
            update(entry.name) { state in
                state.percent = plan.percentPresent
                state.missingSegments = plan.missing
                state.gaps = plan.runs.count
                state.running = plan.missing > 0
                state.lagSeconds = plan.runs.flatMap { $0 }.map(\.endMs).max().map { (now - $0) / 1000 } ?? 0
            }
            await target.reportProgress(entry.name, percent: plan.percentPresent, running: plan.missing > 0)
            for run in plan.runs {
                let from = run[0].startMs / 1000
                let duration = max(1, (run[run.count - 1].endMs + 999) / 1000 - from)
                let response = try await primary.archive(primaryName, from: from, duration: duration)
                let bucket = self.bucket
                let body = response.body.map { chunk -> ByteBuffer in
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
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}
