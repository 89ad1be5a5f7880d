import AsyncHTTPClient
import EstuaryClusterAuth
import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// One Estuary node (ingest or DVR role): the HTTP listener, the stream manager and the
/// sources it runs, as one `Service`.
///
/// Guarantees: `run()` returns once graceful shutdown has stopped every stream, ended every
/// live response and closed the listener; the node serves its API with no streams at all.
public final class Node: Service, Sendable {
    public let options: NodeOptions
    public let manager: StreamManager
    public let metrics = NodeMetrics()
    let logger: Logger
    let httpClient: HTTPClient
    let clusterAuth: ClusterAuth?
    private let initialStreams: [StreamConfig]
    private let state = Mutex<(port: Int?, ready: Bool, waiters: [CheckedContinuation<Int, Never>])>((nil, false, []))

    public init(options: NodeOptions, streams: [StreamConfig], logger: Logger) {
        self.options = options
        self.logger = logger
        self.initialStreams = streams
        self.clusterAuth = options.clusterKey.map { ClusterAuth(key: $0) }
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.decompression = .disabled
        self.httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let factory = SourceFactory(
            httpClient: httpClient, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, clusterKey: options.clusterKey)
        self.manager = StreamManager(factory: factory, readerLimits: options.readerLimits, logger: logger)
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
        if clusterAuth == nil {
            logger.warning("no cluster_key configured: node-to-node endpoints (M4F) are open; development only")
        }
        let router = buildRouter(node: self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(options.httpHost, port: options.httpPort), serverName: "estuary-\(options.role)"),
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
        manager.apply(initialStreams, origin: .file)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.manager.run() }
            group.addTask { try await app.run() }
        }
        try? await httpClient.shutdown()
    }

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

        enum CodingKeys: String, CodingKey {
            case hostname, role, streams
            case clusterKey = "cluster_key"
        }
    }

    func configReport() -> ConfigReport {
        ConfigReport(
            hostname: options.hostname, role: options.role, clusterKey: options.clusterKey == nil ? nil : "***", streams: manager.all.count)
    }
}
