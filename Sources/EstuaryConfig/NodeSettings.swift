/// A node's effective settings: for each one, the flag if given, else the environment variable if set and
/// not empty, else the YAML file's value, else the default.
///
/// The environment is a parameter (pass `ProcessInfo.processInfo.environment`), so tests need not touch the
/// process's own. `config_external` set through `PUT /streamer/api/v3/config` sits between the environment
/// and the file (DESIGN §3); that is the runtime's to apply.
public struct NodeSettings: Sendable, Equatable {
    /// The YAML file that was read, if any.
    public var configPath: String?
    /// The cluster key; `nil` leaves node-to-node endpoints open (log a warning).
    public var clusterKey: String?
    /// The configuration backend's URL; `nil` disables config_external.
    public var configExternal: String?
    /// The HTTP port (default 8080).
    public var httpPort: Int
    /// The RTMP port (default 1935).
    public var rtmpPort: Int
    /// The archive-only replication listener's port; `nil` opens none.
    public var replicationPort: Int?
    /// This node's hostname (`host=` towards the backend, `capture_at`).
    public var hostname: String
    /// Where API-managed streams are persisted; `nil` keeps them in memory only.
    public var stateDir: String?
    /// The valid streams of the YAML file.
    public var streams: [StreamConfig]
    /// The sources of the YAML file.
    public var sources: [SourceConfig]
    /// API credentials, playback/publish authorization and client limits: the YAML's, with the environment's
    /// `ESTUARY_API_TOKEN`, `ESTUARY_EDIT_AUTH`, `ESTUARY_VIEW_AUTH`, `ESTUARY_METRICS_AUTH` over them.
    public var access: AccessConfig
    /// The HTTPS listener's port (`ESTUARY_HTTPS_PORT`, `listen: {https: …}`); `nil` opens none.
    public var httpsPort: Int?
    /// The certificate, key and trusted CA files, with `ESTUARY_TLS_*` over the YAML's `tls` block.
    public var tls: TLSConfig

    /// Creates settings directly (tests, embedding).
    public init(
        configPath: String? = nil,
        clusterKey: String? = nil,
        configExternal: String? = nil,
        httpPort: Int = ListenConfig.defaultHTTPPort,
        rtmpPort: Int = ListenConfig.defaultRTMPPort,
        replicationPort: Int? = nil,
        hostname: String,
        stateDir: String? = nil,
        streams: [StreamConfig] = [],
        sources: [SourceConfig] = [],
        access: AccessConfig = AccessConfig(),
        httpsPort: Int? = nil,
        tls: TLSConfig = TLSConfig()
    ) {
        self.access = access
        self.httpsPort = httpsPort
        self.tls = tls
        self.configPath = configPath
        self.clusterKey = clusterKey
        self.configExternal = configExternal
        self.httpPort = httpPort
        self.rtmpPort = rtmpPort
        self.replicationPort = replicationPort
        self.hostname = hostname
        self.stateDir = stateDir
        self.streams = streams
        self.sources = sources
    }

    /// The YAML file to read: `--config`, else `ESTUARY_CONFIG`, else none.
    public static func configPath(flags: NodeFlags, environment: [String: String]) -> String? {
        nonEmpty(flags.config) ?? value(.config, in: environment)
    }

    /// Merges flags over environment over `file` (already loaded) over defaults. Does no I/O.
    ///
    /// - Parameters:
    ///   - defaultHostname: used when no flag, `HOSTNAME` or `hostname:` names the node.
    /// - Throws: ``NodeSettingsError/invalidValue(source:value:reason:)`` for a port flag or variable out of
    ///   1…65535 or not a number.
    public static func resolve(
        flags: NodeFlags,
        environment: [String: String],
        file: NodeConfig?,
        defaultHostname: String
    ) throws(NodeSettingsError) -> NodeSettings {
        let file = file ?? NodeConfig()
        let listen = file.listen
        let httpsPort = try port(flag: nil, "", .httpsPort, environment) ?? listen.https
        let tls = file.tls.applying(environment: environment)
        if httpsPort != nil && !tls.canServe {
            throw .invalidValue(
                source: NodeEnvironmentKey.httpsPort.rawValue, value: String(httpsPort ?? 0),
                reason: "an HTTPS listener needs a certificate and a key (tls: or ESTUARY_TLS_CERTIFICATE, ESTUARY_TLS_KEY)")
        }
        return NodeSettings(
            configPath: configPath(flags: flags, environment: environment),
            clusterKey: nonEmpty(flags.clusterKey) ?? value(.clusterKey, in: environment) ?? file.clusterKey,
            configExternal: nonEmpty(flags.configExternal) ?? value(.configExternal, in: environment) ?? file.configExternal,
            httpPort: try port(flag: flags.httpPort, "--http-port", .httpPort, environment) ?? listen.http,
            rtmpPort: try port(flag: flags.rtmpPort, "--rtmp-port", .rtmpPort, environment) ?? listen.rtmp,
            replicationPort: try port(flag: flags.replicationPort, "--replication-port", .replicationPort, environment)
                ?? listen.replication,
            hostname: nonEmpty(flags.hostname) ?? value(.hostname, in: environment) ?? file.hostname ?? defaultHostname,
            stateDir: nonEmpty(flags.stateDir) ?? value(.stateDir, in: environment) ?? file.stateDir,
            streams: file.streams,
            sources: file.sources,
            access: try file.access.applying(environment: environment),
            httpsPort: httpsPort,
            tls: tls
        )
    }

    /// Finds the YAML file (``configPath(flags:environment:)``), loads it if there is one, and merges
    /// (``resolve(flags:environment:file:defaultHostname:)``). Without a file the node starts with no streams.
    ///
    /// - Returns: the settings and the file's warnings (unknown fields, invalid streams) for the caller to log.
    /// - Throws: ``NodeSettingsError/config(_:)`` when the file cannot be loaded, or as `resolve`.
    public static func load(
        flags: NodeFlags,
        environment: [String: String],
        defaultHostname: String
    ) throws(NodeSettingsError) -> (settings: NodeSettings, warnings: [ConfigWarning]) {
        var file: NodeConfig?
        var warnings: [ConfigWarning] = []
        if let path = configPath(flags: flags, environment: environment) {
            do {
                (file, warnings) = try NodeConfig.load(path: path)
            } catch {
                throw .config(error)
            }
        }
        let settings = try resolve(flags: flags, environment: environment, file: file, defaultHostname: defaultHostname)
        return (settings, warnings)
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    private static func value(_ key: NodeEnvironmentKey, in environment: [String: String]) -> String? {
        nonEmpty(environment[key.rawValue]?.trimmingSpaces())
    }

    private static func port(
        flag: Int?,
        _ flagName: String,
        _ key: NodeEnvironmentKey,
        _ environment: [String: String]
    ) throws(NodeSettingsError) -> Int? {
        if let flag {
            guard (1...65_535).contains(flag) else {
                throw .invalidValue(source: flagName, value: String(flag), reason: "must be a port within 1…65535")
            }
            return flag
        }
        guard let text = value(key, in: environment) else { return nil }
        guard let number = Int(text), (1...65_535).contains(number) else {
            throw .invalidValue(source: key.rawValue, value: text, reason: "must be a port within 1…65535")
        }
        return number
    }
}
