import Synchronization

/// One speed limit shared by every stream of a replicator: a token bucket in bytes.
///
/// Guarantees: over any window longer than a second, the bytes let through stay within the rate (plus one
/// burst); a caller that takes more than is available waits (the debt is paid by sleeping), so many
/// concurrent streams share the limit fairly by arrival.
public final class TokenBucket: Sendable {
    /// Bytes per second; `nil` means no limit.
    public let bytesPerSecond: Double?
    /// The most bytes that may pass at once after a pause.
    public let burst: Double
    private let state: Mutex<(tokens: Double, last: ContinuousClock.Instant, passed: Int)>

    /// A bucket for `bitsPerSecond` (nil: unlimited).
    public init(bitsPerSecond: Int?) {
        let rate = bitsPerSecond.map { Double($0) / 8 }
        bytesPerSecond = rate
        burst = max(Double(64 << 10), (rate ?? 0) / 10)
        state = Mutex((burst, .now, 0))
    }

    /// Bytes let through so far.
    public var passedBytes: Int { state.withLock { $0.passed } }

    /// Takes `bytes`, waiting as long as the rate requires.
    public func take(_ bytes: Int) async throws {
        guard let rate = bytesPerSecond else {
            state.withLock { $0.passed += bytes }
            return
        }
        let wait = state.withLock { state -> Double in
            let now = ContinuousClock.now
            let elapsed = now - state.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            state.tokens = min(burst, state.tokens + seconds * rate)
            state.last = now
            state.tokens -= Double(bytes)
            state.passed += bytes
            return state.tokens < 0 ? -state.tokens / rate : 0
        }
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int64(wait * 1000))) }
    }
}
