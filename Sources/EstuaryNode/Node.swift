import AsyncHTTPClient
import EstuaryAccess
import EstuaryClusterAuth
import EstuaryConfig
import EstuaryConfigExternal
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuaryRTMP
import EstuarySources
import EstuaryTLS
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import UnixSignals

/// One Estuary node (ingest or DVR role): the HTTP listener, the stream manager and the
/// sources it runs, as one `Service`.
///
/// Guarantees: `run()` returns once graceful shutdown has stopped every stream, ended every
/// live response and closed the listener; the node serves its API with no streams at all.
public final class Node: Service, Sendable {
    public let options: NodeOptions
    public let manager: StreamManager
    public let metrics = NodeMetrics()
    /// The live HTTP outputs' per-event-loop fan-outs.
    let liveFanouts = LiveFanoutRegistry()
    /// Live fan-outs attached now: one per (live output with HTTP clients, event loop holding some of them).
    public var liveFanoutCount: Int { liveFanouts.count }
    let logger: Logger
    let httpClient: HTTPClient
    let clusterAuth: ClusterAuth?
    /// The config_external cycle (idle while no backend is configured).
    public let configSync: ConfigSync
    private let initialStreams: [StreamConfig]
    private let stateStore: NodeStateStore?
    /// The API-managed state (its `config_external` and streams), changed under this lock and persisted.
    private let apiState: Mutex<NodeStateStore.State>
    private let stateLoadError: String?
    private let state = Mutex<(port: Int?, ready: Bool, waiters: [CheckedContinuation<Int, Never>])>((nil, false, []))
    private let rtmpState = Mutex<(port: Int?, error: String?)>((nil, nil))
    private let httpsState = Mutex<Int?>(nil)
    private let replicationState = Mutex<Int?>(nil)
    /// The HTTPS listener's certificate store (nil without `listen.https`), or why the TLS files are unusable.
    private let tlsSetup: Result<TLSCertificateStore?, TLSError>
    /// Who may use the API (issue 9).
    let accessPolicy: APIAccessPolicy
    /// Failed API authentications per client IP.
    let authFailures = AuthFailureThrottle()
    /// The HTTP listener's connections, against `client_limits`.
    public let connections: ConnectionCounter
    /// The `on_play`/`on_publish` backends, with their cache.
    public let authorization: AuthorizationBackend
    /// This process's random identity: an `m4f://` input of this node that reaches this node itself is refused
    /// (508), so a misconfigured or symmetric input list never feeds a stream its own output.
    public let instanceID = UUID().uuidString
    /// The streams of the YAML's `sources:` (idle without any).
    public let sourceFollower: SourceFollower

    /// The bound RTMP port, once listening (nil while not, or when the node has no RTMP listener).
    public var rtmpPort: Int? { rtmpState.withLock { $0.port } }
    /// The bound HTTPS port, once listening (nil while not, or without an HTTPS listener).
    public var httpsPort: Int? { httpsState.withLock { $0 } }
    /// The bound replication port, once listening (nil while not, or without a replication listener).
    public var replicationPort: Int? { replicationState.withLock { $0 } }
    /// The HTTPS listener's certificates (reloaded on change or SIGHUP), when it has one.
    public var tlsCertificates: TLSCertificateStore? { try? tlsSetup.get() }

    /// Concurrent HTTP/1 connections the node opens to one upstream host: one per live input pulled from it (M4F,
    /// HTTP MPEG-TS, HLS) plus the short requests to config and authorization backends.
    public static let connectionsPerUpstreamHost = 100_000

    public init(options: NodeOptions, streams: [StreamConfig], logger: Logger) {
        self.options = options
        self.logger = logger
        self.initialStreams = streams
        self.clusterAuth = options.clusterKey.map { ClusterAuth(key: $0) }
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.decompression = .disabled
        // Every caller retries on its own schedule (input backoff, config cycles); a refused connection or an
        // untrusted certificate is reported at once instead of being retried silently until the request deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        // A live input holds its connection for as long as the stream runs, so the pool's default of 8 connections
        // per host capped the streams a node could pull from one upstream node (a dvr-node recording 200 streams of
        // one ingest-node kept 8 alive; the rest waited for a connection until they timed out). The node's own
        // stream count bounds this instead.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = Self.connectionsPerUpstreamHost
        let tlsSetup = Result<TLSCertificateStore?, TLSError> { () throws(TLSError) -> TLSCertificateStore? in
            configuration.tlsConfiguration = try TLSClientTrust.configuration(caFile: options.tls.ca)
            guard options.httpsPort != nil else { return nil }
            guard let certificate = options.tls.certificate, let key = options.tls.key else {
                throw .unreadableCertificate(path: "(none)", reason: "an HTTPS listener needs tls.certificate and tls.key")
            }
            return try TLSCertificateStore(certificate: certificate, key: key)
        }
        if case .failure = tlsSetup { configuration.tlsConfiguration = nil }
        self.tlsSetup = tlsSetup
        self.httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.accessPolicy = APIAccessPolicy(options.access)
        self.connections = ConnectionCounter(limits: options.access.clientLimits)
        self.authorization = AuthorizationBackend(httpClient: httpClient)
        let factory = SourceFactory(
            httpClient: httpClient, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, clusterKey: options.clusterKey,
            instanceID: instanceID)
        self.manager = StreamManager(factory: factory, readerLimits: options.readerLimits, logger: logger)
        self.sourceFollower = SourceFollower(
            sources: options.sources, manager: manager, client: httpClient, clusterKey: options.clusterKey, logger: logger,
            interval: options.sourcePollInterval)
        self.stateStore = options.stateDirectory.map { NodeStateStore(directory: $0) }
        var loaded = NodeStateStore.State()
        var loadError: String?
        if let stateStore {
            do {
                loaded = try stateStore.load()
            } catch {
                loadError = error.description
            }
        }
        self.apiState = Mutex(loaded)
        self.stateLoadError = loadError
        let metrics = self.metrics
        self.configSync = ConfigSync(
            host: options.hostname, httpClient: httpClient, target: manager, logger: logger, interval: options.configExternalInterval,
            requestTimeout: options.configExternalTimeout, observer: { metrics.record($0) })
    }

    /// Whether the listener is up and the configuration loaded.
    public var isReady: Bool { state.withLock { $0.ready } }

    /// The bound HTTP port, once listening (useful with port 0).
    public func waitUntilListening() async -> Int {
        await withCheckedContinuation { continuation in
            let port = state.withLock { state -> Int? in
                if let port = state.port { return port }
                state.waiters.append(continuation)
                return nil
            }
            if let port { continuation.resume(returning: port) }
        }
    }

    public func run() async throws {
        let certificates: TLSCertificateStore?
        switch tlsSetup {
        case .success(let store): certificates = store
        case .failure(let error):
            logger.critical("cannot start: \(error)")
            try? await httpClient.shutdown()
            throw error
        }
        if clusterAuth == nil {
            logger.warning("no cluster_key configured: node-to-node endpoints (M4F) are open; development only")
        }
        let router = buildRouter(node: self)
        let serverName = "estuary-\(options.role)"
        let app = Application(
            router: router,
            server: .node(
                limitedBy: connections, archive: { [self] in ArchiveEndpoints.fastAnswer(self, $0, serverName: serverName) },
                served: { [metrics] kind in
                    switch kind {
                    case .segment: metrics.archiveSegmentsOnEventLoop.add(1, ordering: .relaxed)
                    case .export: metrics.archiveExportsOnEventLoop.add(1, ordering: .relaxed)
                    }
                }),
            configuration: .init(address: .hostname(options.httpHost, port: options.httpPort), serverName: serverName),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port ?? options.httpPort
                let waiters = state.withLock { state in
                    state.port = port
                    state.ready = true
                    defer { state.waiters.removeAll() }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: port) }
                logger.info("listening", metadata: ["port": .stringConvertible(port), "role": .string(options.role)])
            },
            logger: logger)
        if let stateLoadError { logger.error("\(stateLoadError); starting without the API's saved state") }
        try applyConfigExternal()
        manager.apply(initialStreams, origin: .file)
        let apiStreams = apiState.withLock { Array($0.streams.values) }
        for name in manager.apply(apiStreams, origin: .api) {
            logger.error(
                "stream saved through the API is also defined in the YAML file; the file's runs", metadata: ["stream": .string(name)])
        }
        let drainLimit = options.shutdownTimeout
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.manager.run() }
            group.addTask { try await app.runClosingListenerFirst(drainLimit: drainLimit) }
            if let certificates, let httpsPort = options.httpsPort {
                // Trapped before the listener opens: an operator's SIGHUP reloads the certificate, never ends the node.
                let hangups = await UnixSignalsSequence(trapping: .sighup)
                let secure = Application(
                    router: router,
                    server: .tls(http1: .limited(by: connections), certificates: certificates),
                    configuration: .init(address: .hostname(options.httpHost, port: httpsPort), serverName: "estuary-\(options.role)"),
                    onServerRunning: { [self] channel in
                        let port = channel.localAddress?.port ?? httpsPort
                        httpsState.withLock { $0 = port }
                        logger.info("listening (https)", metadata: ["port": .stringConvertible(port)])
                    },
                    logger: logger)
                group.addTask { try await secure.runClosingListenerFirst(drainLimit: drainLimit) }
                group.addTask { await cancelWhenGracefulShutdown { await certificates.run(hangups: hangups, logger: self.logger) } }
            }
            if let replicationPort = options.replicationPort {
                // Archive only; TLS when the node serves HTTPS, so `m4fs://` primaries are replicated over TLS.
                let tls = options.httpsPort == nil ? nil : certificates
                let archive = Application(
                    router: buildRouter(node: self, archiveOnly: true),
                    server: tls.map { .tls(http1: .limited(by: connections), certificates: $0) } ?? .limited(by: connections),
                    configuration: .init(
                        address: .hostname(options.httpHost, port: replicationPort), serverName: "estuary-\(options.role)"),
                    onServerRunning: { [self] channel in
                        let port = channel.localAddress?.port ?? replicationPort
                        replicationState.withLock { $0 = port }
                        logger.info(
                            "listening (replication)", metadata: ["port": .stringConvertible(port), "tls": .stringConvertible(tls != nil)])
                    },
                    logger: logger)
                group.addTask { try await archive.runClosingListenerFirst(drainLimit: drainLimit) }
            }
            group.addTask { await cancelWhenGracefulShutdown { await self.configSync.run() } }
            group.addTask { await cancelWhenGracefulShutdown { await self.sourceFollower.run() } }
            group.addTask { await cancelWhenGracefulShutdown { await DVRCleanup(node: self).run() } }
            if let rtmpPort = options.rtmpPort {
                let server = RTMPServer(host: options.httpHost, port: rtmpPort, logger: logger) { request in
                    try await self.acceptPublisher(request)
                }
                group.addTask {
                    do {
                        try await cancelWhenGracefulShutdown {
                            try await server.run { port in self.rtmpState.withLock { $0.port = port } }
                        }
                    } catch is CancellationError {
                        // Shutdown.
                    } catch {
                        // The HTTP side keeps serving: a node whose RTMP port is taken still relays and plays.
                        self.rtmpState.withLock { $0.error = "\(error)" }
                        self.logger.error(
                            "rtmp listener failed", metadata: ["port": .stringConvertible(rtmpPort), "error": .string("\(error)")])
                    }
                }
            }
        }
        try? await httpClient.shutdown()
    }

    /// The `config_external` in force and where it came from: the environment (or flag) wins over the API,
    /// the API over the YAML file.
    var configExternalSelection: (url: String, source: String)? {
        if let value = options.configExternalOverride { return (value, "env") }
        if let value = apiState.withLock({ $0.configExternal }) { return (value, "api") }
        if let value = options.configExternalFile { return (value, "file") }
        return nil
    }

    /// Hands the selected backend to the cycle (or turns config_external off).
    func applyConfigExternal() throws(ConfigExternalError) {
        guard let selection = configExternalSelection else {
            configSync.setURL(nil)
            return
        }
        let url = try ConfigBackendURL(selection.url)
        if configSync.url != url {
            logger.info("config_external set", metadata: ["url": .string(url.masked), "source": .string(selection.source)])
        }
        configSync.setURL(url)
    }

    /// Whether streams are managed by a backend (then the API may not change them).
    var configExternalEnabled: Bool { configSync.url != nil }

    /// `PUT /streamer/api/v3/config {"config_external": …}`: validates, persists and applies the URL
    /// (`nil` or empty removes it, which stops only the backend's streams).
    func setConfigExternal(_ text: String?) throws {
        let value = text.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        if let value {
            do {
                _ = try ConfigBackendURL(value)
            } catch {
                throw NodeError(.badRequest, "invalid_config_external", error.detail)
            }
        }
        try apiState.withLock { state in
            try stateStore?.saveConfigExternal(value)
            state.configExternal = value
        }
        try? applyConfigExternal()
    }

    /// `PUT /streamer/api/v3/streams/{name}`: starts or restarts an API-managed stream and persists it.
    func putStream(_ config: StreamConfig) throws {
        guard !configExternalEnabled else { throw NodeError.configExternalEnabled }
        try apiState.withLock { state in
            if let running = manager.stream(named: config.name), running.origin != .api {
                throw NodeError(
                    .conflict, "stream_defined_elsewhere",
                    "stream '\(config.name)' is defined by the node's \(running.origin.rawValue) configuration; change it there")
            }
            var streams = state.streams
            streams[config.name] = config
            try stateStore?.saveStreams(streams)
            state.streams = streams
            _ = manager.put(config, origin: .api)
        }
    }

    /// `DELETE /streamer/api/v3/streams/{name}`: stops an API-managed stream and forgets it.
    func deleteStream(_ name: String) throws {
        guard !configExternalEnabled else { throw NodeError.configExternalEnabled }
        try apiState.withLock { state in
            guard state.streams[name] != nil else {
                if let running = manager.stream(named: name) {
                    throw NodeError(
                        .badRequest, "stream_defined_elsewhere",
                        "stream '\(name)' is defined by the node's \(running.origin.rawValue) configuration; remove it there")
                }
                throw NodeError.streamNotFound(name)
            }
            var streams = state.streams
            streams[name] = nil
            try stateStore?.saveStreams(streams)
            state.streams = streams
            manager.stop(name)
        }
    }

    /// The stream a client asked to play: a running one, or one the backend returns for the unknown name
    /// (DESIGN §3 step 3).
    func streamForPlayback(_ name: String) async throws -> LiveStream {
        if let stream = manager.stream(named: name) { return stream }
        guard StreamConfig.isValidName(name), configSync.acceptsDynamicNames else { throw NodeError.streamNotFound(name) }
        switch await configSync.resolve(name) {
        case .found(let config):
            guard let stream = manager.startDynamic(config) else { throw NodeError.streamNotFound(name) }
            return stream
        case .notFound:
            throw NodeError.streamNotFound(name)
        case .failed(let error):
            throw NodeError(
                .serviceUnavailable, "config_external_error",
                "stream '\(name)' is unknown here and the configuration backend could not be asked: \(error)")
        }
    }

    /// Where publishers (RTMP, M4F push) are handed to their streams' `publish://` inputs.
    public var publishRegistry: PublishRegistry { manager.factory.publishRegistry }

    /// Admits a publisher to stream `name`: a running stream with a `publish://` input, or one the backend
    /// returns for the unknown name (DESIGN §3 step 3); the stream's `password`, when set, must match. A second
    /// publisher is refused unless the stream's `publish://` input says `?replace=true`.
    ///
    /// When the stream (or the node) names an `on_publish` backend, it is asked too, with the password as
    /// `token`; a backend that cannot be asked refuses unless `auth_backend_failure: open`.
    public func acceptPublisher(
        stream name: String, password: String?, origin: String, ip: String = "unknown", proto: String = "m4f"
    ) async throws(PublishError) -> PublishSession {
        var stream = manager.stream(named: name)
        if stream == nil, StreamConfig.isValidName(name), configSync.acceptsDynamicNames {
            switch await configSync.resolve(name) {
            case .found(let config) where config.acceptsPublish:
                stream = manager.startDynamic(config)
            case .failed(let error):
                throw .backendUnavailable(stream: name, reason: "\(error)")
            case .found, .notFound:
                break
            }
        }
        guard let stream, stream.config.acceptsPublish else { throw .unknownStream(name) }
        if let expected = stream.config.password, !expected.isEmpty, expected != password {
            logger.warning("publish refused: wrong password", metadata: ["stream": .string(name), "from": .string(origin)])
            throw .wrongPassword(stream: name)
        }
        if let url = stream.config.onPublish ?? options.access.onPublish {
            let query = AuthorizationQuery(kind: .publish, name: name, ip: ip, token: password, proto: proto)
            switch await authorization.check(url: url, query) {
            case .allowed:
                break
            case .denied(let status):
                logger.warning("publish refused by on_publish", metadata: ["stream": .string(name), "from": .string(origin)])
                throw .denied(stream: name, reason: "the on_publish backend answered \(status)")
            case .unavailable(let reason):
                guard options.access.backendFailOpen else {
                    logger.error("on_publish backend unavailable; refusing", metadata: ["stream": .string(name), "error": .string(reason)])
                    throw .denied(stream: name, reason: "the on_publish backend is unavailable (\(reason))")
                }
                logger.warning("on_publish backend unavailable; admitting (fail open)", metadata: ["stream": .string(name)])
            }
        }
        let replace = stream.config.inputs.contains { input in
            input.scheme == "publish" && ((try? InputURL(parsing: input.url))?.queryValue("replace") == "true")
        }
        let session = try publishRegistry.attach(stream: name, origin: origin, replace: replace)
        logger.info("publisher connected", metadata: ["stream": .string(name), "from": .string(origin)])
        return session
    }

    /// Admits an RTMP publication to `APP/NAME`, or else to `NAME` (``RTMPPublishRequest/candidateStreams``).
    func acceptPublisher(_ request: RTMPPublishRequest) async throws(PublishError) -> PublishSession {
        let candidates = request.candidateStreams
        for (index, name) in candidates.enumerated() {
            do throws(PublishError) {
                return try await acceptPublisher(
                    stream: name, password: request.query["password"], origin: "rtmp \(request.peer)", ip: request.peerIP, proto: "rtmp")
            } catch .unknownStream where index + 1 < candidates.count {
                continue
            }
        }
        throw .unknownStream(candidates.first ?? request.name)
    }

    /// Asks the stream's (or the node's) `on_play` backend whether the client of `request` may play `name`
    /// over `proto`; does nothing when there is no backend, or for a node-to-node request with a valid cluster
    /// signature.
    ///
    /// - Throws: ``NodeError`` 403 `play_denied` when the backend refuses, 403 `auth_backend_unavailable`
    ///   when it cannot be asked and the node fails closed (the default).
    func authorizePlayback(
        _ name: String, proto: String, _ request: Request, _ context: EstuaryRequestContext, config: StreamConfig? = nil
    ) async throws {
        guard let url = onPlayURL(for: config ?? manager.stream(named: name)?.config) else { return }
        if let clusterAuth,
            (try? clusterAuth.verify(
                header: request.headers[.authorization], method: request.method.rawValue, path: request.uri.path)) != nil
        {
            return
        }
        let token = request.uri.queryParameters["token"].map(String.init)
        let query = AuthorizationQuery(kind: .play, name: name, ip: context.clientIP, token: token, proto: proto)
        switch await authorization.check(url: url, query) {
        case .allowed:
            return
        case .denied(let status):
            throw NodeError(.forbidden, "play_denied", "playback of '\(name)' was refused by the on_play backend (\(status))")
        case .unavailable(let reason):
            if options.access.backendFailOpen {
                logger.warning(
                    "on_play backend unavailable; allowing (fail open)", metadata: ["stream": .string(name), "error": .string(reason)])
                return
            }
            logger.error("on_play backend unavailable; refusing", metadata: ["stream": .string(name), "error": .string(reason)])
            throw NodeError(
                .forbidden, "auth_backend_unavailable", "playback of '\(name)' cannot be authorized: the on_play backend is unavailable")
        }
    }

    /// The `on_play` backend that authorizes playback of a stream with `config`: its own, else the node's; nil
    /// when playback is open.
    func onPlayURL(for config: StreamConfig?) -> String? { config?.onPlay ?? options.access.onPlay }

    /// Checks `Authorization: Cluster …` on a node-to-node request (open without a key).
    func authorizeClusterRequest(_ request: Request) throws {
        guard let clusterAuth else { return }
        do {
            try clusterAuth.verify(header: request.headers[.authorization], method: request.method.rawValue, path: request.uri.path)
        } catch {
            throw NodeError(.unauthorized, "cluster_auth_failed", "\(error)")
        }
    }

    struct ConfigReport: Encodable {
        var hostname: String
        var role: String
        var clusterKey: String?
        var streams: Int
        var configExternal: String?
        var configExternalSource: String?
        var configExternalError: ConfigExternalStatus.Problem?
        var configExternalStatus: ConfigExternalStatus?
        var sources: [SourceFollower.SourceStatus]?

        enum CodingKeys: String, CodingKey {
            case hostname, role, streams, sources
            case clusterKey = "cluster_key"
            case configExternal = "config_external"
            case configExternalSource = "config_external_source"
            case configExternalError = "config_external_error"
            case configExternalStatus = "config_external_status"
        }
    }

    func configReport() -> ConfigReport {
        let selection = configExternalSelection
        let status = selection == nil ? nil : configSync.status
        return ConfigReport(
            hostname: options.hostname, role: options.role, clusterKey: options.clusterKey == nil ? nil : "***", streams: manager.all.count,
            configExternal: selection.map { SecretMasking.mask(url: $0.url) }, configExternalSource: selection?.source,
            configExternalError: status?.error, configExternalStatus: status,
            sources: sourceFollower.sources.isEmpty ? nil : sourceFollower.status)
    }
}
