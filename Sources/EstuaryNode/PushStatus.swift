import Synchronization

/// How each push of a stream is doing, for the stream API (`pushes` in the stream report).
///
/// Guarantees: URLs are stored masked; every failure is counted and its reason kept until the next one.
public final class PushStatus: Sendable {
    /// One push's state.
    public struct Entry: Sendable, Encodable, Equatable {
        public var url: String
        /// `connecting`, `running` or `retrying`.
        public var state: String
        public var bytesSent: Int64
        public var connects: Int
        public var errors: Int
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case url, state, connects, errors
            case bytesSent = "bytes_sent"
            case lastError = "last_error"
        }
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    /// Every push, sorted by URL.
    public var snapshot: [Entry] { entries.withLock { Array($0.values) }.sorted { $0.url < $1.url } }

    func connecting(_ url: String) {
        update(url) {
            $0.state = "connecting"
            $0.connects += 1
        }
    }

    func running(_ url: String) { update(url) { $0.state = "running" } }

    func sent(_ url: String, bytes: Int) { update(url) { $0.bytesSent += Int64(bytes) } }

    func failed(_ url: String, error: String) {
        update(url) {
            $0.state = "retrying"
            $0.errors += 1
            $0.lastError = error
        }
    }

    private func update(_ url: String, _ change: (inout Entry) -> Void) {
        entries.withLock { entries in
            var entry = entries[url] ?? Entry(url: url, state: "connecting", bytesSent: 0, connects: 0, errors: 0, lastError: nil)
            change(&entry)
            entries[url] = entry
        }
    }
}
