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
    /// The node-facing configuration, validated.
    public var config: StreamConfig { didSet { source = nil } }
    /// What happens when its preferred node returns; `nil` follows the configuration's default.
    public var failback: FailbackPolicy?
    /// The JSON text ``config`` was read from, when an upstream delivered one (a PostgreSQL row): the replica stores
    /// it as it came instead of encoding ``config`` again. Any change to ``config`` drops it. Not part of equality.
    public private(set) var source: String?

    /// Creates an entry.
    public init(role: String = "ingest", config: StreamConfig, failback: FailbackPolicy? = nil) {
        self.role = role
        self.config = config
        self.failback = failback
    }

    /// Creates an entry read from `source`, the JSON text that decoded to `config`.
    init(role: String, config: StreamConfig, failback: FailbackPolicy?, source: String) {
        self.init(role: role, config: config, failback: failback)
        self.source = source
    }

    public static func == (lhs: CentralStream, rhs: CentralStream) -> Bool {
        lhs.role == rhs.role && lhs.failback == rhs.failback && lhs.config == rhs.config
    }

    /// The stream's name.
    public var name: String { config.name }
    /// The key in the central configuration.
    public var key: StreamKey { StreamKey(role: role, name: config.name) }
    /// `cluster_ingest.capture_at`: a node name or a label selector (`region=eu`), a soft preference.
    public var captureAt: String? { config.clusterIngest?.captureAt }
    /// Whether it runs on every node of its role (that `capture_at` selects) even in capture-once mode: a recorded
    /// stream with `dvr.replicate` is kept by every dvr-node, each filling its gaps from the others, so it takes no
    /// lease. (Capturing once is about the original source; these streams read other nodes over M4F.)
    public var runsOnEveryNode: Bool { config.dvr?.replicate == true }
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
