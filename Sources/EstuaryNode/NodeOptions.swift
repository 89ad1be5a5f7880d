import EstuaryConfig
import EstuaryDVR
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources

/// Everything a node needs to know about itself, resolved from flags, environment and YAML.
public struct NodeOptions: Sendable {
    /// The HTTP listener (DESIGN §7: 8080). Port 0 picks a free port (tests).
    public var httpHost: String
    public var httpPort: Int
    /// The RTMP publish listener (DESIGN §7: 1935 on ingest nodes); `nil` opens none, 0 picks a free port.
    public var rtmpPort: Int?
    /// The shared secret for node-to-node requests; nil leaves those endpoints open.
    public var clusterKey: String?
    /// This node's name (`HOSTNAME`), sent to configuration backends.
    public var hostname: String
    /// The role reported in logs and the API ("ingest", "dvr").
    public var role: String
    /// How long graceful shutdown may take before the process gives up.
    public var shutdownTimeout: Duration
    /// Per-reader queue bounds of every live output.
    public var readerLimits: HubLimits
    /// Where API-managed streams and the API's `config_external` persist; `nil` keeps them in memory.
    public var stateDirectory: String?
    /// `config_external` from the environment (`STREAMER_CONFIG_EXTERNAL`) or the flag: it wins over the API.
    public var configExternalOverride: String?
    /// `config_external` from the YAML file: the API's value wins over it.
    public var configExternalFile: String?
    /// The pause between config_external cycles (DESIGN §3: 2–3 s).
    public var configExternalInterval: ClosedRange<Duration> = .seconds(2) ... .seconds(3)
    /// The bound on one config_external request (DESIGN §3: 5 s).
    public var configExternalTimeout: Duration = .seconds(5)
    /// How often DVR cleanup runs (expiration, storage and disk limits).
    public var dvrCleanupInterval: Duration = .seconds(60)
    /// API credentials, on_play/on_publish backends and client limits (issue 9).
    public var access = AccessConfig()
    /// The archive-only replication listener (DESIGN §4.3, `listen: {replication: 8002}`); `nil` opens none, 0 picks
    /// a free port. It speaks TLS, with the HTTPS listener's certificate, when the node has an HTTPS listener.
    public var replicationPort: Int?
    /// The HTTPS listener (same endpoints as HTTP, with `tls`'s certificate); `nil` opens none, 0 picks a free port.
    public var httpsPort: Int?
    /// The HTTPS certificate and key, and the CA trusted for outgoing TLS (`m4fs://`, `https://`).
    public var tls = TLSConfig()
    /// The YAML's `sources:`: other nodes whose streams this node takes (``SourceFollower``).
    public var sources: [SourceConfig] = []
    /// How often each source's stream list is read.
    public var sourcePollInterval: Duration = .seconds(3)
    /// Size and free bytes of the filesystem holding a path (`statvfs`); tests may substitute a probe.
    public var diskUsageProbe: @Sendable (String) -> (total: Int, available: Int)? = StreamArchive.filesystem

    public init(
        httpHost: String = "0.0.0.0", httpPort: Int = 8080, clusterKey: String? = nil, hostname: String = "localhost",
        role: String = "ingest", shutdownTimeout: Duration = .seconds(10), readerLimits: HubLimits = HubLimits(),
        stateDirectory: String? = nil, configExternalOverride: String? = nil, configExternalFile: String? = nil
    ) {
        self.stateDirectory = stateDirectory
        self.configExternalOverride = configExternalOverride
        self.configExternalFile = configExternalFile
        self.readerLimits = readerLimits
        self.httpHost = httpHost
        self.httpPort = httpPort
        self.clusterKey = clusterKey
        self.hostname = hostname
        self.role = role
        self.shutdownTimeout = shutdownTimeout
    }
}
