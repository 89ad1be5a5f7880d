import Synchronization

/// One speed limit shared by every stream of a replicator: a token bucket in bytes.
///
/// Guarantees: over any window longer than a second, the bytes let through stay within the rate (plus one
/// burst); a caller that takes more than is available waits (the debt is paid by sleeping), so many
/// concurrent streams share the limit fairly by arrival. While held (``hold(for:)``: the target's live
/// recording lags) nothing passes at all, limited or not.
public final class TokenBucket: Sendable {
    /// Bytes per second; `nil` means no limit.
    public let bytesPerSecond: Double?
    /// The most bytes that may pass at once after a pause.
    public let burst: Double
    private let state: Mutex<(tokens: Double, last: ContinuousClock.Instant, passed: Int)>
    private let held = Mutex<(until: ContinuousClock.Instant?, holds: Int)>((nil, 0))

    /// A bucket for `bitsPerSecond` (nil: unlimited).
    public init(bitsPerSecond: Int?) {
        let rate = bitsPerSecond.map { Double($0) / 8 }
        bytesPerSecond = rate
        burst = max(Double(64 << 10), (rate ?? 0) / 10)
        state = Mutex((burst, .now, 0))
    }

    /// Bytes let through so far.
    public var passedBytes: Int { state.withLock { $0.passed } }

    /// Stops everything from passing until `duration` from now (a later hold extends an earlier one).
    public func hold(for duration: Duration) {
        let until = ContinuousClock.now + duration
        held.withLock { held in
            if held.until.map({ $0 <= .now }) ?? true { held.holds += 1 }
            held.until = max(held.until ?? until, until)
        }
    }

    /// Whether a hold is in force now.
    public var isHeld: Bool { held.withLock { $0.until.map { $0 > .now } ?? false } }

    /// How many holds have begun (an extension of one in force does not count).
    public var holds: Int { held.withLock { $0.holds } }

    /// Takes `bytes`, waiting while held and as long as the rate requires.
    public func take(_ bytes: Int) async throws {
        while let until = held.withLock({ $0.until }), until > .now {
            try await Task.sleep(until: until)
        }
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
