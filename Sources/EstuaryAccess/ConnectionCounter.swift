import EstuaryConfig
import Synchronization

/// Counts one listener's open connections, in total and per client IP, against ``ClientLimits``.
///
/// Guarantees: every ``admit(ip:)`` that returns nil is matched by exactly one ``release(ip:)`` from
/// ``ConnectionGuard``; the per-IP table holds only addresses with open connections.
public final class ConnectionCounter: Sendable {
    /// Why a connection was refused.
    public enum Refusal: Sendable, Equatable {
        case tooManyConnections(limit: Int)
        case tooManyFromAddress(ip: String, limit: Int)
    }

    public let limits: ClientLimits
    private let state = Mutex<(total: Int, perIP: [String: Int], refused: Int, timedOut: Int)>((0, [:], 0, 0))

    public init(limits: ClientLimits) {
        self.limits = limits
    }

    /// Takes a place for a new connection from `ip`, or says why there is none.
    public func admit(ip: String) -> Refusal? {
        state.withLock { state in
            if state.total >= limits.connections {
                state.refused += 1
                return .tooManyConnections(limit: limits.connections)
            }
            let current = state.perIP[ip] ?? 0
            if current >= limits.connectionsPerIP {
                state.refused += 1
                return .tooManyFromAddress(ip: ip, limit: limits.connectionsPerIP)
            }
            state.total += 1
            state.perIP[ip] = current + 1
            return nil
        }
    }

    /// Gives back an admitted connection's place.
    public func release(ip: String) {
        state.withLock { state in
            state.total -= 1
            let left = (state.perIP[ip] ?? 1) - 1
            state.perIP[ip] = left > 0 ? left : nil
        }
    }

    /// Counts a connection closed for not sending a request head in time.
    func countTimeout() {
        state.withLock { $0.timedOut += 1 }
    }

    /// Open connections, refused connections and request-head timeouts since start.
    public var snapshot: (open: Int, refused: Int, timedOut: Int) {
        state.withLock { ($0.total, $0.refused, $0.timedOut) }
    }
}
