import EstuaryConfig

/// A replicator's settings (DESIGN §7): flags win over `REPLICATOR_*` / `ESTUARY_CLUSTER_KEY`.
public struct ReplicatorSettings: Sendable, Equatable {
    /// The status listener (`REPLICATOR_LISTEN`, default `0.0.0.0:8090`).
    public var listenHost: String
    public var listenPort: Int
    /// The secondary dvr-node (`REPLICATOR_TARGET`, default `http://127.0.0.1:8080`).
    public var target: String
    /// The total speed limit in bits/s (`REPLICATOR_SPEED_LIMIT`, `100M` style); nil: none.
    public var speedLimit: Int?
    /// The cluster key both nodes check.
    public var clusterKey: String?
    /// The pause between cycles.
    public var interval: Duration
    /// Copy the newest gaps first (default) or the oldest.
    public var newestFirst: Bool
    /// Segments younger than this are left to live recording, milliseconds.
    public var settleMs: Int64
    /// Certificate authorities trusted, besides the system's, for `https://` targets and `m4fs://` primaries
    /// (`REPLICATOR_TLS_CA`, else `ESTUARY_TLS_CA`).
    public var tlsCA: String?
    /// While copying, how often the target's live recording is checked (``LiveLoadGuard``).
    public var liveCheckInterval: Duration = .seconds(1)
    /// How long replication pauses once the target's live recording lags.
    public var liveHold: Duration = .seconds(3)
    /// Bytes waiting for the target's disk above which its live recording counts as lagging.
    public var liveBacklogLimit: Int = 4 << 20
    /// The most archive bytes asked for in one request: a longer gap is copied in pieces.
    public var pieceBytes: Int = 128 << 20
    /// Pieces of one stream copied at once.
    public var copiesPerStream: Int = 2
    /// Connections kept per node (primary or target): enough for every stream's copies at once, plus the API.
    public var connectionsPerNode: Int = 64

    public init(
        listenHost: String = "0.0.0.0", listenPort: Int = 8090, target: String = "http://127.0.0.1:8080", speedLimit: Int? = nil,
        clusterKey: String? = nil, interval: Duration = .seconds(5), newestFirst: Bool = true, settleMs: Int64 = 12_000,
        tlsCA: String? = nil
    ) {
        self.tlsCA = tlsCA
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.target = target
        self.speedLimit = speedLimit
        self.clusterKey = clusterKey
        self.interval = interval
        self.newestFirst = newestFirst
        self.settleMs = settleMs
    }

    /// Reads the environment, with `flags` (same names, nil when not given) winning.
    public static func resolve(
        listen: String?, target: String?, speedLimit: String?, clusterKey: String?, environment: [String: String]
    ) throws -> ReplicatorSettings {
        var settings = ReplicatorSettings()
        let listenText = listen ?? environment["REPLICATOR_LISTEN"] ?? "0.0.0.0:8090"
        guard let colon = listenText.lastIndex(of: ":"), let port = Int(listenText[listenText.index(after: colon)...]),
            (0...65_535).contains(port)
        else {
            throw ReplicationError("invalid_setting", "REPLICATOR_LISTEN must be HOST:PORT, got '\(listenText)'")
        }
        settings.listenHost = String(listenText[..<colon])
        settings.listenPort = port
        settings.target = target ?? environment["REPLICATOR_TARGET"] ?? settings.target
        guard settings.target.hasPrefix("http://") || settings.target.hasPrefix("https://") else {
            throw ReplicationError("invalid_setting", "REPLICATOR_TARGET must be an http:// URL, got '\(settings.target)'")
        }
        if let text = speedLimit ?? environment["REPLICATOR_SPEED_LIMIT"], !text.isEmpty {
            do {
                settings.speedLimit = try ConfigUnits.parseBitRate(text)
            } catch {
                throw ReplicationError("invalid_setting", "REPLICATOR_SPEED_LIMIT: \(error)")
            }
        }
        settings.clusterKey = clusterKey ?? environment["ESTUARY_CLUSTER_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        settings.tlsCA = (environment["REPLICATOR_TLS_CA"] ?? environment["ESTUARY_TLS_CA"]).flatMap { $0.isEmpty ? nil : $0 }
        return settings
    }
}
