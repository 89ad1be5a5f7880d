import EstuaryConfig
import Synchronization

/// Asks the backend about stream names clients requested but the node does not run (DESIGN §3 step 3).
///
/// Guarantees: names requested within ``batchWindow`` of each other go to the backend in one question
/// (one HTTP request per ~1 KB of names); a name asked twice in that window is asked once; a name the
/// backend did not return is answered ``Resolution/notFound`` without asking again for ``negativeTTL``, so
/// a scanner cannot flood the backend; the negative cache holds at most ``negativeCacheLimit`` names. Every
/// waiting caller is answered, with ``Resolution/failed(_:)`` if the resolver stops.
public final class DynamicStreamResolver: Sendable {
    /// What the backend said about one name.
    public enum Resolution: Sendable, Equatable {
        /// The backend returned this (valid) configuration.
        case found(StreamConfig)
        /// The backend does not know the name (or returned an invalid entry for it).
        case notFound
        /// The backend could not be asked.
        case failed(ConfigExternalError)
    }

    /// Asks the backend about a batch of names.
    public typealias Fetch = @Sendable ([String]) async -> Result<BackendStreamAnswer, ConfigExternalError>

    /// How long the first request of a batch waits for others (~50 ms).
    public let batchWindow: Duration
    /// How long a negative answer is remembered.
    public let negativeTTL: Duration
    /// The most names the negative cache holds; the oldest expire first when it is full.
    public let negativeCacheLimit: Int

    private struct State {
        var pending: [String: [CheckedContinuation<Resolution, Never>]] = [:]
        var order: [String] = []
        var negative: [String: ContinuousClock.Instant] = [:]
        var wake: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    /// The clock negative answers expire by (tests pass a clock they move by hand).
    private let now: @Sendable () -> ContinuousClock.Instant

    /// Creates a resolver; ``run(fetch:)`` must run for requests to be answered.
    public init(
        batchWindow: Duration = .milliseconds(50), negativeTTL: Duration = .seconds(3), negativeCacheLimit: Int = 100_000,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.batchWindow = batchWindow
        self.negativeTTL = negativeTTL
        self.negativeCacheLimit = negativeCacheLimit
        self.now = now
    }

    /// Asks about one name; returns when its batch is answered.
    public func resolve(_ name: String) async -> Resolution {
        let now = self.now()
        if state.withLock({ state in
            guard let until = state.negative[name] else { return false }
            if until > now { return true }
            state.negative[name] = nil
            return false
        }) {
            return .notFound
        }
        return await withCheckedContinuation { continuation in
            let (finished, wake) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                if state.finished { return (true, nil) }
                if state.pending[name] == nil { state.order.append(name) }
                state.pending[name, default: []].append(continuation)
                defer { state.wake = nil }
                return (false, state.wake)
            }
            if finished {
                continuation.resume(returning: .failed(ConfigExternalError(.networkError, "the node is shutting down")))
            }
            wake?.resume()
        }
    }

    /// Whether `name` is in the negative cache now.
    public func isKnownMissing(_ name: String) -> Bool {
        let now = self.now()
        return state.withLock { ($0.negative[name] ?? now) > now }
    }

    /// Answers requests in batches until cancelled; then fails every request still waiting.
    public func run(fetch: @escaping Fetch) async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                await waitForRequests()
                do {
                    try await Task.sleep(for: batchWindow)
                } catch {
                    break
                }
                let batch = state.withLock { state -> [(String, [CheckedContinuation<Resolution, Never>])] in
                    defer {
                        state.pending.removeAll()
                        state.order.removeAll()
                    }
                    return state.order.map { ($0, state.pending[$0] ?? []) }
                }
                if batch.isEmpty { continue }
                group.addTask { await self.answer(batch, fetch: fetch) }
            }
        }
        let waiting = state.withLock { state in
            state.finished = true
            defer {
                state.pending.removeAll()
                state.order.removeAll()
            }
            return state.pending.values.flatMap { $0 }
        }
        for continuation in waiting {
            continuation.resume(returning: .failed(ConfigExternalError(.networkError, "the node is shutting down")))
        }
    }

    private func answer(_ batch: [(String, [CheckedContinuation<Resolution, Never>])], fetch: Fetch) async {
        let result = await fetch(batch.map(\.0))
        var missing: [String] = []
        for (name, continuations) in batch {
            let resolution: Resolution
            switch result {
            case .success(let answer):
                if let config = answer.streams.first(where: { $0.name == name }) {
                    resolution = .found(config)
                } else {
                    resolution = .notFound
                    missing.append(name)
                }
            case .failure(let error):
                resolution = .failed(error)
            }
            for continuation in continuations { continuation.resume(returning: resolution) }
        }
        guard !missing.isEmpty else { return }
        let until = self.now() + negativeTTL
        state.withLock { state in
            if state.negative.count + missing.count > negativeCacheLimit {
                let now = self.now()
                state.negative = state.negative.filter { $0.value > now }
                if state.negative.count + missing.count > negativeCacheLimit {
                    let keep = state.negative.sorted { $0.value > $1.value }.prefix(max(0, negativeCacheLimit - missing.count))
                    state.negative = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
                }
            }
            for name in missing { state.negative[name] = until }
        }
    }

    private func waitForRequests() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if !state.order.isEmpty || Task.isCancelled { return true }
                    state.wake = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let wake = state.withLock { state in
                defer { state.wake = nil }
                return state.wake
            }
            wake?.resume()
        }
    }
}
