import Foundation

/// The node's YAML file (DESIGN §2): server options plus the same streams config_external serves.
///
/// ```yaml
/// cluster_key: abcd
/// config_external: http://127.0.0.1:8070/streams
/// listen: {http: 8080, rtmp: 1935, replication: 8002, https: 8443}
/// tls: {certificate: /etc/tls/tls.crt, key: /etc/tls/tls.key, ca: /etc/tls/ca.crt}
/// sources:
///   - url: m4f://streamer:8081
///     dvr: {root: /storage, expiration: 20d, replicate: true}
/// streams:
///   - name: cam1
///     inputs: [{url: rtsp://10.0.0.5/s1}]
/// ```
/// Environment variables and flags override these values; see ``NodeSettings``.
public struct NodeConfig: Sendable, Equatable {
    /// `cluster_key`: the secret shared by the nodes for signing node-to-node requests; `nil` leaves those
    /// endpoints open.
    public var clusterKey: String?
    /// `config_external`: the configuration backend's URL (may carry a key as user information).
    public var configExternal: String?
    /// `listen`: the ports to listen on.
    public var listen: ListenConfig
    /// `sources`: other nodes whose streams this node takes, all or filtered.
    public var sources: [SourceConfig]
    /// `streams`: the valid streams of the file; invalid ones are left out and reported as warnings.
    public var streams: [StreamConfig]
    /// `state_dir`: where streams managed through the API are persisted.
    public var stateDir: String?
    /// `hostname`: this node's name towards the configuration backend (`host=`) and in `capture_at`.
    public var hostname: String?
    /// API credentials, playback and publish authorization, client limits (``AccessConfig``).
    public var access: AccessConfig
    /// `tls`: the HTTPS listener's certificate and key, and the CA trusted for outgoing TLS (``TLSConfig``).
    public var tls: TLSConfig

    /// Creates a node configuration; the defaults are those of an empty file.
    public init(
        clusterKey: String? = nil,
        configExternal: String? = nil,
        listen: ListenConfig = ListenConfig(),
        sources: [SourceConfig] = [],
        streams: [StreamConfig] = [],
        stateDir: String? = nil,
        hostname: String? = nil,
        access: AccessConfig = AccessConfig(),
        tls: TLSConfig = TLSConfig()
    ) {
        self.tls = tls
        self.access = access
        self.clusterKey = clusterKey
        self.configExternal = configExternal
        self.listen = listen
        self.sources = sources
        self.streams = streams
        self.stateDir = stateDir
        self.hostname = hostname
    }

    /// Reads the node's YAML text. An empty text is an empty configuration.
    ///
    /// Invalid streams do not fail the load: they are left out of ``streams`` and reported as
    /// ``ConfigWarning/invalidStream(_:)``, as are unknown fields (``ConfigWarning/unknownField(_:)``, once per
    /// name, e.g. `streams.dvr.foo`). Units (`20d`, `500G`, `100M`) and `replicate` for `dvr_replicate` are
    /// accepted, and so are YAML anchors, aliases and merge keys (`<<: *defaults`); top-level keys beginning
    /// with `x-` are ignored silently, as a place for anchors.
    ///
    /// - Throws: ``NodeConfigError/yaml(reason:line:column:)`` for a syntax error,
    ///   ``NodeConfigError/duplicateStream(name:)`` when two streams share a name,
    ///   ``NodeConfigError/invalidField(field:reason:)`` for a bad server option or source.
    public static func load(yaml: String) throws(NodeConfigError) -> (config: NodeConfig, warnings: [ConfigWarning]) {
        let document: ConfigValue
        do {
            document = try ConfigValue.parse(yaml: yaml)
        } catch {
            throw .yaml(reason: error.reason, line: error.line, column: error.column)
        }
        if document == .null { return (NodeConfig(), []) }
        do {
            return try read(document)
        } catch let error as FieldError {
            throw .invalidField(field: error.field, reason: error.reason)
        } catch let error as NodeConfigError {
            throw error
        } catch {
            throw .invalidField(field: "(top level)", reason: String(describing: error))
        }
    }

    /// Reads the node's YAML file at `path`; see ``load(yaml:)``.
    ///
    /// - Throws: ``NodeConfigError/unreadable(path:reason:)`` when the file cannot be read, else as
    ///   ``load(yaml:)``.
    public static func load(path: String) throws(NodeConfigError) -> (config: NodeConfig, warnings: [ConfigWarning]) {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw NodeConfigError.unreadable(path: path, reason: "not UTF-8 text")
            }
            text = decoded
        } catch let error as NodeConfigError {
            throw error
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        return try load(yaml: text)
    }

    /// Throws ``FieldError`` or ``NodeConfigError``.
    private static func read(_ document: ConfigValue) throws -> (config: NodeConfig, warnings: [ConfigWarning]) {
        var reader: ObjectReader
        do {
            reader = try ObjectReader(document, path: "", namePath: "")
        } catch {
            throw FieldError(field: "(top level)", reason: "expected a mapping of options, got \(document.kindName)")
        }
        var config = NodeConfig()
        var unknown = Set<String>()
        config.clusterKey = try reader.nonEmptyString("cluster_key")
        config.configExternal = try reader.nonEmptyString("config_external")
        if let url = config.configExternal {
            let scheme = URLText.scheme(of: url)
            guard scheme == "http" || scheme == "https", !(URLText.hostAndPort(of: url)?.isEmpty ?? true) else {
                throw FieldError(field: "config_external", reason: "expected an http(s) URL\(URLText.describe(url))")
            }
        }
        config.stateDir = try reader.nonEmptyString("state_dir")
        config.hostname = try reader.nonEmptyString("hostname")
        var accessUnknown = Set<String>()
        config.access = try AccessConfig.read(from: &reader, unknownFields: &accessUnknown)
        if var listen = try reader.object("listen") {
            config.listen = try ListenConfig.read(from: &listen)
            unknown.formUnion(listen.unknownFields)
        }
        if var tls = try reader.object("tls") {
            config.tls = try TLSConfig.read(from: &tls)
            unknown.formUnion(tls.unknownFields)
        }
        if config.listen.https != nil && !config.tls.canServe {
            throw FieldError(field: "listen.https", reason: "an HTTPS listener needs tls.certificate and tls.key")
        }
        if let sources = try reader.list("sources") {
            for (path, value) in sources {
                config.sources.append(try SourceConfig.read(value, path: path, unknownFields: &unknown))
            }
        }
        var warnings: [ConfigWarning] = []
        if let streams = try reader.list("streams") {
            var seen = Set<String>()
            for (path, value) in streams {
                let stream: StreamConfig
                do {
                    stream = try StreamConfig.read(value, label: path, unknownPrefix: "streams.", unknownFields: &unknown)
                } catch {
                    warnings.append(.invalidStream(error))
                    continue
                }
                guard seen.insert(stream.name).inserted else {
                    throw NodeConfigError.duplicateStream(name: stream.name)
                }
                config.streams.append(stream)
            }
        }
        // Top-level `x-…` keys hold YAML anchors for reuse (`x-dvr: &dvr {…}`), as in Compose files.
        unknown.formUnion(reader.unknownFields.filter { !$0.hasPrefix("x-") })
        unknown.formUnion(accessUnknown)
        warnings.append(contentsOf: unknown.sorted().map(ConfigWarning.unknownField))
        return (config, warnings)
    }
}
