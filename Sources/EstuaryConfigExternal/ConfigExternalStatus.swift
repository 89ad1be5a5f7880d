/// The state of a node's config_external link, as the API shows it (`GET /streamer/api/v3/config`).
public struct ConfigExternalStatus: Sendable, Equatable, Encodable {
    /// The current problem, `nil` after a clean answer.
    public struct Problem: Sendable, Equatable, Encodable {
        /// `network_error`, `malformed_json`, `validation_error`, `invalid_request` or `unknown`.
        public var reason: ConfigExternalReason
        /// What was wrong (the first problem; ``ConfigExternalStatus/problems`` lists them all).
        public var detail: String
        /// UTC seconds since the problem began.
        public var since: Int64
    }

    /// The figures of the last cycle that completed.
    public struct Cycle: Sendable, Equatable, Encodable {
        /// HTTP requests the cycle made.
        public var requests: Int
        /// Body bytes it received.
        public var bytes: Int
        /// How long it took, milliseconds.
        public var durationMs: Int
        /// Streams the backend listed for this node.
        public var listed: Int
        /// Streams the cycle started (new names), and stopped.
        public var started: Int
        public var stopped: Int

        enum CodingKeys: String, CodingKey {
            case requests, bytes, listed, started, stopped
            case durationMs = "duration_ms"
        }
    }

    /// The error shown as `config_external_error`; `nil` when the last cycle was clean.
    public var error: Problem?
    /// Every problem of the last completed cycle (invalid entries, names defined twice), at most 100.
    public var problems: [String] = []
    /// UTC seconds of the last cycle that completed; `nil` before the first.
    public var lastSync: Int64?
    /// Cycles completed, and cycles failed, since the link was set up.
    public var cycles: Int = 0
    public var failures: Int = 0
    /// The last completed cycle.
    public var lastCycle: Cycle?
    /// What the backend's headers announced last.
    public var capabilities = BackendCapabilities()

    /// Creates an empty status.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case error, problems, cycles, failures, capabilities
        case lastSync = "last_sync"
        case lastCycle = "last_cycle"
    }
}
