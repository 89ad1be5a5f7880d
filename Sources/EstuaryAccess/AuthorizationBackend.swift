import AsyncHTTPClient
import EstuaryConfig
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Asks `on_play` and `on_publish` backends whether a client may play or publish, and remembers each
/// decision for a few seconds per (backend, kind, name, token, IP, protocol).
///
/// Guarantees: a cached allow or deny is answered without a backend request until it expires; an
/// unavailable backend is never cached (the next client asks again); each request is bounded by `timeout`;
/// the cache holds at most `capacity` entries (expired ones are dropped first, then the oldest).
public final class AuthorizationBackend: Sendable {
    public let ttl: Duration
    public let timeout: Duration
    public let capacity: Int
    private let httpClient: HTTPClient
    private let cache = Mutex<[Key: (verdict: AuthorizationVerdict, expires: ContinuousClock.Instant)]>([:])
    private let counters = Mutex<(requests: Int, cacheHits: Int)>((0, 0))

    struct Key: Hashable {
        var url: String
        var query: AuthorizationQuery
    }

    public init(httpClient: HTTPClient, ttl: Duration = .seconds(5), timeout: Duration = .seconds(3), capacity: Int = 100_000) {
        self.httpClient = httpClient
        self.ttl = ttl
        self.timeout = timeout
        self.capacity = capacity
    }

    /// Backend requests made and answers taken from the cache, since start.
    public var statistics: (requests: Int, cacheHits: Int) { counters.withLock { ($0.requests, $0.cacheHits) } }

    /// The backend's verdict on `query`, from the cache when fresh.
    public func check(url: String, _ query: AuthorizationQuery) async -> AuthorizationVerdict {
        let key = Key(url: url, query: query)
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[key] }), cached.expires > now {
            counters.withLock { $0.cacheHits += 1 }
            return cached.verdict
        }
        counters.withLock { $0.requests += 1 }
        let verdict = await ask(url: url, query)
        if case .unavailable = verdict { return verdict }
        cache.withLock { entries in
            if entries.count >= capacity {
                let expired = entries.filter { $0.value.expires <= now }.map(\.key)
                for key in expired { entries[key] = nil }
                if entries.count >= capacity, let oldest = entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                    entries[oldest] = nil
                }
            }
            entries[key] = (verdict, now.advanced(by: ttl))
        }
        return verdict
    }

    /// The request URL: the backend's URL plus the query's fields (percent-encoded).
    public static func requestURL(_ url: String, _ query: AuthorizationQuery) -> String {
        var items = [("name", query.name), ("ip", query.ip), ("proto", query.proto), ("kind", query.kind.rawValue)]
        if let token = query.token { items.append(("token", token)) }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        let text = items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        return url + (url.contains("?") ? "&" : "?") + text
    }

    private func ask(url: String, _ query: AuthorizationQuery) async -> AuthorizationVerdict {
        let request = HTTPClientRequest(url: Self.requestURL(url, query))
        do {
            let response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(timeout.components.seconds * 1_000_000_000)))
            let status = Int(response.status.code)
            _ = try? await response.body.collect(upTo: 64 << 10)
            switch status {
            case 200..<300: return .allowed
            case 400..<500: return .denied(status: status)
            default: return .unavailable(reason: "\(SecretMasking.mask(url: url)) answered \(status)")
            }
        } catch {
            return .unavailable(reason: "\(SecretMasking.mask(url: url)) could not be asked: \(type(of: error))")
        }
    }
}
