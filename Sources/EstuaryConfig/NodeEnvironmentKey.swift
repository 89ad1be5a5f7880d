/// The environment variables a node reads (DESIGN §7).
public enum NodeEnvironmentKey: String, Sendable, CaseIterable {
    /// The YAML file's path (`--config`).
    case config = "ESTUARY_CONFIG"
    /// The cluster key (`--cluster-key`).
    case clusterKey = "ESTUARY_CLUSTER_KEY"
    /// The configuration backend's URL (`--config-external`).
    case configExternal = "STREAMER_CONFIG_EXTERNAL"
    /// The HTTP port (`--http-port`).
    case httpPort = "ESTUARY_HTTP_PORT"
    /// The RTMP port (`--rtmp-port`).
    case rtmpPort = "ESTUARY_RTMP_PORT"
    /// The replication port (`--replication-port`).
    case replicationPort = "ESTUARY_REPLICATION_PORT"
    /// The node's hostname (`--hostname`).
    case hostname = "HOSTNAME"
    /// The state directory (`--state-dir`).
    case stateDir = "ESTUARY_STATE_DIR"
    /// The HTTPS port (`listen: {https: …}`).
    case httpsPort = "ESTUARY_HTTPS_PORT"
    /// The HTTPS listener's certificate chain file (`tls: {certificate: …}`).
    case tlsCertificate = "ESTUARY_TLS_CERTIFICATE"
    /// The HTTPS listener's private key file (`tls: {key: …}`).
    case tlsKey = "ESTUARY_TLS_KEY"
    /// Extra certificate authorities trusted for outgoing TLS (`tls: {ca: …}`).
    case tlsCA = "ESTUARY_TLS_CA"
}
