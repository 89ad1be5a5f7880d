import Foundation
import Synchronization

/// Slows down guessing: after `limit` failed authentications from one IP address within `window`, that
/// address is refused (429) until the window that began with its first failure ends.
///
/// Guarantees: memory is bounded (at most `capacity` addresses are tracked; the stalest are forgotten
/// first); a successful authentication does not reset the count, so interleaving one good credential does
/// not buy more guesses.
public final class AuthFailureThrottle: Sendable {
    public let limit: Int
    public let window: Duration
    public let capacity: Int
    private let state = Mutex<[String: (since: ContinuousClock.Instant, failures: Int)]>([:])

    public init(limit: Int = 10, window: Duration = .seconds(60), capacity: Int = 10_000) {
        self.limit = limit
        self.window = window
        self.capacity = capacity
    }

    /// How long `ip` must wait before it may try again, or nil when it may try now.
    public func retryAfter(ip: String, now: ContinuousClock.Instant = .now) -> Duration? {
        state.withLock { entries in
            guard let entry = entries[ip] else { return nil }
            let end = entry.since.advanced(by: window)
            if now >= end {
                entries[ip] = nil
                return nil
            }
            return entry.failures >= limit ? end - now : nil
        }
    }

    /// Counts one failed authentication from `ip`.
    public func recordFailure(ip: String, now: ContinuousClock.Instant = .now) {
        state.withLock { entries in
            if var entry = entries[ip], now < entry.since.advanced(by: window) {
                entry.failures += 1
                entries[ip] = entry
                return
            }
            if entries.count >= capacity {
                let expired = entries.filter { now >= $0.value.since.advanced(by: window) }.map(\.key)
                for key in expired { entries[key] = nil }
                if entries.count >= capacity, let stalest = entries.min(by: { $0.value.since < $1.value.since })?.key {
                    entries[stalest] = nil
                }
            }
            entries[ip] = (now, 1)
        }
    }
}
