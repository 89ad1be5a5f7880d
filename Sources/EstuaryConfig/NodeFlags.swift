/// The node's command-line flags; `nil` means the flag was not given.
public struct NodeFlags: Sendable, Equatable {
    /// `--config`: the YAML file's path.
    public var config: String?
    /// `--cluster-key`.
    public var clusterKey: String?
    /// `--config-external`.
    public var configExternal: String?
    /// `--http-port`.
    public var httpPort: Int?
    /// `--rtmp-port`.
    public var rtmpPort: Int?
    /// `--replication-port`.
    public var replicationPort: Int?
    /// `--hostname`.
    public var hostname: String?
    /// `--state-dir`.
    public var stateDir: String?

    /// Creates the flags; leave out those not given.
    public init(
        config: String? = nil,
        clusterKey: String? = nil,
        configExternal: String? = nil,
        httpPort: Int? = nil,
        rtmpPort: Int? = nil,
        replicationPort: Int? = nil,
        hostname: String? = nil,
        stateDir: String? = nil
    ) {
        self.config = config
        self.clusterKey = clusterKey
        self.configExternal = configExternal
        self.httpPort = httpPort
        self.rtmpPort = rtmpPort
        self.replicationPort = replicationPort
        self.hostname = hostname
        self.stateDir = stateDir
    }
}
