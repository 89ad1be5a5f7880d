import AsyncHTTPClient
import EstuaryConfig
import Foundation
import Logging
import Synchronization

/// The config_external cycle (DESIGN §3): every 2–3 s (jittered) it lists the node's streams, asks by name
/// for running backend streams missing from the list, and makes the node's backend streams exactly that;
/// it also answers dynamic-name requests through a ``DynamicStreamResolver``.
///
/// Guarantees:
/// - a cycle acts only on a whole answer: when any request of it fails, nothing is started or stopped;
/// - a stream whose configuration is unchanged is never touched; one invalid entry never blocks another,
///   and a running stream whose new entry is invalid keeps running as it was;
/// - failures are shown in ``status`` with their reason, and retried with backoff (up to ``maximumBackoff``);
///   the first clean answer clears the error;
/// - changing the URL takes effect at once (the next cycle starts immediately); removing it stops every
///   stream that came from the backend and nothing else.
public final class ConfigSync: Sendable {
    /// This node's hostname (`host=`).
    public let host: String
    /// The pause between cycles, chosen anew (uniformly) each time.
    public let interval: ClosedRange<Duration>
    /// The longest pause after repeated failures.
    public let maximumBackoff: Duration
    /// The bound on one request.
    public let requestTimeout: Duration
    /// Answers requests for unknown names.
    public let resolver: DynamicStreamResolver
    private let httpClient: HTTPClient
    private let target: any ExternalStreamTarget
    private let logger: Logger
    private let observer: @Sendable (ConfigBackendRequest) -> Void
    private let state = Mutex<(url: ConfigBackendURL?, generation: Int, status: ConfigExternalStatus)>((nil, 0, ConfigExternalStatus()))
    private let wakeup = Wakeup()

    /// Creates the cycle; it does nothing until ``run()`` runs and a URL is set.
    ///
    /// - Parameter observer: told about every backend request (metrics).
    public init(
        host: String, httpClient: HTTPClient, target: any ExternalStreamTarget, logger: Logger,
        interval: ClosedRange<Duration> = .seconds(2) ... .seconds(3), maximumBackoff: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(5), resolver: DynamicStreamResolver = DynamicStreamResolver(),
        observer: @escaping @Sendable (ConfigBackendRequest) -> Void = { _ in }
    ) {
        self.host = host
        self.httpClient = httpClient
        self.target = target
        self.logger = logger
        self.interval = interval
        self.maximumBackoff = maximumBackoff
        self.requestTimeout = requestTimeout
        self.resolver = resolver
        self.observer = observer
    }

    /// The backend now in use; `nil` when config_external is off.
    public var url: ConfigBackendURL? { state.withLock { $0.url } }

    /// The link's state for the API and metrics.
    public var status: ConfigExternalStatus { state.withLock { $0.status } }

    /// Whether unknown names may be sent to the backend: a backend is set and did not answer
    /// `X-Config-Server-Dynamic-Streams: false`.
    public var acceptsDynamicNames: Bool {
        state.withLock { $0.url != nil && $0.status.capabilities.dynamicStreams }
    }

    /// Sets, changes or (with `nil`) removes the backend; the loop reacts at once.
    public func setURL(_ url: ConfigBackendURL?) {
        let changed = state.withLock { state -> Bool in
            guard state.url != url else { return false }
            state.url = url
            state.generation += 1
            state.status = ConfigExternalStatus()
            return true
        }
        if changed { wakeup.signal() }
    }

    /// Asks the backend about an unknown name (batched with other requests close in time). Without a backend,
    /// or with dynamic streams refused by it, answers ``DynamicStreamResolver/Resolution/notFound`` at once.
    public func resolve(_ name: String) async -> DynamicStreamResolver.Resolution {
        guard acceptsDynamicNames else { return .notFound }
        return await resolver.resolve(name)
    }

    /// Runs cycles until the task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await self.resolver.run { names in
                    guard let client = self.client() else {
                        return .failure(ConfigExternalError(.invalidRequest, "config_external is not set"))
                    }
                    let endpoint = self.status.capabilities.dynamicEndpoint
                    do throws(ConfigExternalError) {
                        return .success(try await client.streams(named: names, via: endpoint))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            await self.loop()
            group.cancelAll()
        }
    }

    private func loop() async {
        var failures = 0
        var hadURL = false
        while !Task.isCancelled {
            let (url, generation) = state.withLock { ($0.url, $0.generation) }
            guard let url else {
                if hadURL {
                    let names = target.externalStreamNames()
                    _ = target.applyExternal([], stopping: Array(names))
                    logger.info("config_external removed: stopped the backend's streams", metadata: ["count": "\(names.count)"])
                    hadURL = false
                }
                await wakeup.wait(upTo: .seconds(3600))
                continue
            }
            hadURL = true
            let ok = await cycle(url: url, generation: generation)
            failures = ok ? 0 : failures + 1
            await wakeup.wait(upTo: pause(afterFailures: failures))
        }
    }

    /// The pause before the next cycle: the jittered interval, doubled per consecutive failure up to the cap.
    /// A backend's `X-Config-Server-Poll-Interval` replaces the interval (kept within 0.5 s and the node's own
    /// upper bound, with ±10 % jitter).
    func pause(afterFailures failures: Int) -> Duration {
        var low = interval.lowerBound.seconds
        var high = interval.upperBound.seconds
        if let asked = status.capabilities.pollInterval {
            let wanted = min(max(asked, 0.5), high)
            low = wanted * 0.9
            high = wanted * 1.1
        }
        var seconds = Double.random(in: low...max(low, high))
        if failures > 0 {
            seconds = min(maximumBackoff.seconds, seconds * pow(2, Double(min(failures - 1, 10))))
        }
        return .milliseconds(Int64(seconds * 1000))
    }

    private func client() -> ConfigBackendClient? {
        guard let url else { return nil }
        return ConfigBackendClient(url: url, host: host, httpClient: httpClient, timeout: requestTimeout, observer: observer)
    }

    /// One cycle; returns whether it completed.
    @discardableResult
    func cycle(url: ConfigBackendURL, generation: Int) async -> Bool {
        let started = ContinuousClock.now
        let client = ConfigBackendClient(url: url, host: host, httpClient: httpClient, timeout: requestTimeout, observer: observer)
        do {
            let listed = try await client.list()
            state.withLock { state in
                if state.generation == generation { state.status.capabilities = listed.capabilities }
            }
            let listedNames = Set(listed.streams.map(\.name))
            let keptInvalid = Set(listed.errors.map(\.stream))
            let missing = target.externalStreamNames().subtracting(listedNames).subtracting(keptInvalid).sorted()
            var asked = BackendStreamAnswer()
            if !missing.isEmpty {
                asked = try await client.streams(named: missing, via: listed.capabilities.updateEndpoint)
            }
            let returned = Set(asked.streams.map(\.name)).union(asked.errors.map(\.stream))
            let stopping = missing.filter { !returned.contains($0) }
            guard state.withLock({ $0.generation == generation }) else { return true }
            let before = target.externalStreamNames()
            let conflicts = target.applyExternal(listed.streams + asked.streams, stopping: stopping)
            let after = target.externalStreamNames()
            var problems = (listed.errors + asked.errors).map { ConfigExternalError(invalidStream: $0) }
            problems += conflicts.map {
                ConfigExternalError(
                    .validationError,
                    "stream '\($0)': defined both by the backend and by the node's file or API; the node's definition runs")
            }
            for field in Set(listed.unknownFields + asked.unknownFields).sorted() {
                logger.warning("config_external: unknown field ignored", metadata: ["field": .string(field)])
            }
            let cycleFigures = ConfigExternalStatus.Cycle(
                requests: listed.requests + asked.requests, bytes: listed.bytes + asked.bytes,
                durationMs: Int((ContinuousClock.now - started).seconds * 1000), listed: listed.streams.count,
                started: (listed.streams + asked.streams).count { !before.contains($0.name) }, stopped: before.subtracting(after).count)
            record(generation: generation, problems: problems, cycle: cycleFigures)
            return true
        } catch {
            recordFailure(generation: generation, error: error)
            return false
        }
    }

    private func record(generation: Int, problems: [ConfigExternalError], cycle: ConfigExternalStatus.Cycle) {
        let now = Int64(Date().timeIntervalSince1970)
        let (previous, first) = state.withLock { state -> (ConfigExternalStatus.Problem?, ConfigExternalError?) in
            guard state.generation == generation else { return (nil, nil) }
            let previous = state.status.error
            state.status.cycles += 1
            state.status.lastSync = now
            state.status.lastCycle = cycle
            state.status.problems = problems.prefix(100).map(\.description)
            if let first = problems.first {
                let detail = problems.count > 1 ? "\(first.detail) (and \(problems.count - 1) more)" : first.detail
                let since = previous?.reason == first.reason ? previous?.since ?? now : now
                state.status.error = .init(reason: first.reason, detail: detail, since: since)
            } else {
                state.status.error = nil
            }
            return (previous, problems.first)
        }
        if let first {
            if previous?.reason != first.reason {
                logger.error(
                    "config_external: backend answer has problems",
                    metadata: ["reason": .string(first.reason.rawValue), "detail": .string(first.detail), "count": "\(problems.count)"])
            }
        } else if previous != nil {
            logger.info("config_external: backend answers cleanly again")
        }
    }

    private func recordFailure(generation: Int, error: ConfigExternalError) {
        let now = Int64(Date().timeIntervalSince1970)
        let isNew = state.withLock { state -> Bool in
            guard state.generation == generation else { return false }
            let previous = state.status.error
            state.status.failures += 1
            let since = previous?.reason == error.reason ? previous?.since ?? now : now
            state.status.error = .init(reason: error.reason, detail: error.detail, since: since)
            return previous?.reason != error.reason || previous?.detail != error.detail
        }
        if isNew {
            logger.error(
                "config_external: cycle failed; running streams are kept",
                metadata: ["reason": .string(error.reason.rawValue), "detail": .string(error.detail)])
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
