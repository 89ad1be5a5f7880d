import AsyncHTTPClient
import EstuaryAccess
import EstuaryConfig
import EstuaryConfigExternal
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The config-sidecar: replicates the central configuration into its local SQLite copy, serves its node the
/// config_external API from it (DESIGN §3), and, with a PostgreSQL upstream, takes part in capture-once leases.
///
/// It serves whatever the replica holds while the upstream is down, reporting `upstream_unreachable` and the
/// data's age in `/status`, and starts serving the replica at once when restarted without the upstream.
public final class Sidecar: Service, Sendable {
    /// The settings it runs with.
    public let settings: SidecarSettings
    /// What it serves from.
    public let state: SidecarState
    /// Failed admin authentications per client IP (issue 9).
    let authFailures = AuthFailureThrottle()
    /// The listener's connections, against the default client limits.
    public let connections: ConnectionCounter
    /// Where the configuration comes from.
    public let upstream: any CentralUpstream
    /// The PostgreSQL link, with a PostgreSQL upstream.
    public let link: PostgresLink?
    let httpClient: HTTPClient
    let logger: Logger
    private let listening = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    /// Opens the replica and prepares the upstream; nothing runs until ``run()``.
    /// - Throws: ``SidecarSettingsError`` for an unusable upstream URL, ``ReplicaError`` when the replica file
    ///   cannot be created.
    public init(settings: SidecarSettings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        self.connections = ConnectionCounter(limits: settings.access.clientLimits)
        self.httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let replica = try settings.replicaPath.map { path throws(ReplicaError) in try ConfigReplica(path: path, logger: logger) }
        self.state = SidecarState(identity: settings.identity, replica: replica, logger: logger)
        let text = settings.upstream
        if text.hasPrefix("file://") {
            self.upstream = FileUpstream(path: String(text.dropFirst("file://".count)), logger: logger)
            self.link = nil
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            let link = PostgresLink(settings: try PostgresURL(text), logger: logger)
            self.link = link
            self.upstream = PostgresUpstream(link: link, logger: logger)
            // Capture-once from the first request: nothing runs here until a lease says so.
            state.holdLeasesUntilConfirmed()
        } else if text.hasPrefix("http://") || text.hasPrefix("https://") {
            let url: ConfigBackendURL
            do {
                url = try ConfigBackendURL(text)
            } catch {
                throw SidecarSettingsError.invalidUpstream(SecretText.mask(text), reason: error.detail)
            }
            self.upstream = HTTPUpstream(
                url: url, host: settings.identity.hostname, role: settings.identity.role, httpClient: httpClient, logger: logger)
            self.link = nil
        } else {
            throw SidecarSettingsError.invalidUpstream(SecretText.mask(text), reason: "expected file://, postgres:// or http(s)://")
        }
    }

    /// Runs until cancelled or a graceful shutdown.
    public func run() async throws {
        let app = Application(
            router: SidecarRouter.build(self),
            server: .limited(by: connections),
            configuration: .init(address: .hostname(settings.listenHost, port: settings.listenPort), serverName: "estuary-config-sidecar"),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port ?? settings.listenPort
                let waiters = listening.withLock { state in
                    state.port = port
                    defer { state.waiters.removeAll() }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: port) }
                logger.info(
                    "config-sidecar listening",
                    metadata: ["port": "\(port)", "upstream": "\(upstream.label)", "node": "\(settings.identity.hostname)"])
            },
            logger: logger)
        if let replica = state.replica, let aside = replica.rebuiltFrom {
            logger.warning("replica was damaged and is rebuilt from the upstream", metadata: ["moved_to": "\(aside)"])
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await app.runClosingListenerFirst(drainLimit: .seconds(5)) }
            group.addTask { await cancelWhenGracefulShutdown { await self.upstream.run(into: self.state) } }
            if settings.nodeURL.isEmpty {
                state.updateNodeReport(NodeReport(ready: true))
            } else {
                let probe = NodeProbe(nodeURL: settings.nodeURL, httpClient: httpClient, logger: logger)
                group.addTask { await cancelWhenGracefulShutdown { await probe.run(into: self.state) } }
            }
            if let link {
                let planner = LeasePlanner(
                    me: settings.identity.hostname, role: settings.identity.role, deadAfter: settings.deadAfter,
                    rebalance: settings.rebalance)
                let coordinator = LeaseCoordinator(link: link, identity: settings.identity, planner: planner, logger: logger)
                group.addTask { await cancelWhenGracefulShutdown { await coordinator.run(into: self.state) } }
            }
        }
        await link?.close()
        try? await httpClient.shutdown()
    }

    /// The bound port, once listening.
    public func waitUntilListening() async -> Int {
        await withCheckedContinuation { continuation in
            let port = listening.withLock { state -> Int? in
                if let port = state.port { return port }
                state.waiters.append(continuation)
                return nil
            }
            if let port { continuation.resume(returning: port) }
        }
    }
}
