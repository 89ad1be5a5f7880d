import EstuaryConfig
import Foundation

/// One stream of the central configuration: what its node runs, plus where it may run.
///
/// The key is ``role`` and ``config``'s name together: an ingest stream and the dvr stream that records it
/// usually share a name. What a node receives is ``config`` alone, encoded with the wire names of DESIGN §2;
/// the central-only fields (`role`, `cluster_ingest.failback`) never reach it.
public struct CentralStream: Sendable, Equatable {
    /// The role of the nodes that run it (`ingest`, `dvr`). Default `ingest`.
    public var role: String
    /// What happens when its preferred node returns; `nil` follows the configuration's default.
    public var failback: FailbackPolicy?
    /// The stream's name.
    public private(set) var name: String
    /// What placing it needs (`capture_at`, `dvr.replicate`), known without decoding ``config``.
    public private(set) var placement: StreamPlacement
    /// The JSON text ``config`` was read from, when an upstream delivered one (a PostgreSQL row, the replica): the
    /// replica stores it as it came instead of encoding ``config`` again. Any change to ``config`` drops it.
    public private(set) var source: String?
    private var body: Body

    /// The configuration, decoded, or the text it is decoded from when first needed. Boxed (`indirect`): an entry
    /// is a few words, so the tables of 10,000 streams a sidecar sorts and copies move pointers, not configurations.
    private indirect enum Body: Sendable {
        case decoded(StreamConfig)
        case stored(StoredConfig)
    }

    /// Creates an entry.
    public init(role: String = "ingest", config: StreamConfig, failback: FailbackPolicy? = nil) {
        self.role = role
        self.failback = failback
        self.name = config.name
        self.placement = StreamPlacement(config)
        self.body = .decoded(config)
    }

    /// Creates an entry read from `source`, the JSON text that decoded to `config`.
    init(role: String, config: StreamConfig, failback: FailbackPolicy?, source: String) {
        self.init(role: role, config: config, failback: failback)
        self.source = source
    }

    /// Creates an entry from a stored stream's JSON text, named `name` whatever the text says, whose
    /// configuration is decoded and checked only when first needed (``decodedConfig()``): a sidecar places every
    /// stream of its role, but serves, and so decodes, only its node's share.
    /// - Parameter placement: the text's `capture_at` and `dvr.replicate`.
    public init(role: String, name: String, failback: FailbackPolicy?, storedJSON: String, placement: StreamPlacement) {
        self.role = role
        self.failback = failback
        self.name = name
        self.placement = placement
        self.source = storedJSON
        self.body = .stored(StoredConfig(role: role, name: name, json: storedJSON))
    }

    /// The node-facing configuration. A stream read from stored text is decoded and checked here, once; one
    /// whose text fails the check reads as a stream of that name without inputs (``decodedConfig()`` says why;
    /// no such stream is claimed or served). Setting it replaces the stored text.
    public var config: StreamConfig {
        get {
            switch body {
            case .decoded(let config): config
            case .stored(let stored): (try? stored.decoded()) ?? StreamConfig(name: name)
            }
        }
        set {
            body = .decoded(newValue)
            name = newValue.name
            placement = StreamPlacement(newValue)
            source = nil
        }
    }

    /// The node-facing configuration, decoded and checked.
    /// - Throws: for stored text that fails the check, ``CentralConfigError/invalidStream(role:_:)`` naming the
    ///   field, or ``CentralConfigError/malformedDocument(reason:)`` for text that is not a JSON object.
    public func decodedConfig() throws(CentralConfigError) -> StreamConfig {
        switch body {
        case .decoded(let config): config
        case .stored(let stored): try stored.decoded()
        }
    }

    /// Whether the configuration passes its check (stored text is decoded here, once): a stream that does not is
    /// neither claimed nor served.
    public var isValid: Bool { (try? decodedConfig()) != nil }

    /// Equal role, failback and configuration. Two entries read from stored text compare their texts, without
    /// decoding (the same text decodes to the same configuration; differently written texts count as a change).
    public static func == (lhs: CentralStream, rhs: CentralStream) -> Bool {
        guard lhs.role == rhs.role, lhs.failback == rhs.failback, lhs.name == rhs.name else { return false }
        // The same text decodes to the same configuration; two different texts not decoded yet count as a change.
        if let left = lhs.source, let right = rhs.source, left == right { return true }
        if case .stored = lhs.body, case .stored = rhs.body { return false }
        return lhs.config == rhs.config
    }

    /// The key in the central configuration.
    public var key: StreamKey { StreamKey(role: role, name: name) }
    /// `cluster_ingest.capture_at`: a node name or a label selector (`region=eu`), a soft preference.
    public var captureAt: String? { placement.captureAt }
    /// Whether it runs on every node of its role (that `capture_at` selects) even in capture-once mode: a recorded
    /// stream with `dvr.replicate` is kept by every dvr-node, each filling its gaps from the others, so it takes no
    /// lease. (Capturing once is about the original source; these streams read other nodes over M4F.)
    public var runsOnEveryNode: Bool { placement.replicate }
}

/// A stream's key in the central configuration: its role and name.
public struct StreamKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The role of the nodes that run it.
    public var role: String
    /// The stream's name.
    public var name: String

    /// Creates a key.
    public init(role: String, name: String) {
        self.role = role
        self.name = name
    }

    public static func < (lhs: StreamKey, rhs: StreamKey) -> Bool {
        (lhs.role, lhs.name) < (rhs.role, rhs.name)
    }

    /// `role/name`.
    public var description: String { "\(role)/\(name)" }
}
