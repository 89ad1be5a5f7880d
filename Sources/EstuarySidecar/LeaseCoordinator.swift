import Foundation
import Logging
import PostgresNIO

/// Capture once, through PostgreSQL: every ``tick`` the sidecar heartbeats its node's readiness and load,
/// reads the registry and the leases, lets ``LeasePlanner`` decide, writes the conditional changes, and hands
/// the new lease view to ``SidecarState``.
///
/// While PostgreSQL does not answer, nothing is written and the last lease view stays served: assignments
/// freeze, nothing is taken over and nothing is stopped. After reconnecting, the planner may not take anything
/// over until the link has been up for the dead-node threshold, so the stale heartbeats of an outage cause no
/// reassignment storm.
public struct LeaseCoordinator: Sendable {
    /// The shared connection.
    public let link: PostgresLink
    /// This node.
    public let identity: SidecarIdentity
    /// The rules.
    public let planner: LeasePlanner
    /// The pause between passes.
    public let tick: Duration
    let logger: Logger

    /// Creates a coordinator.
    public init(link: PostgresLink, identity: SidecarIdentity, planner: LeasePlanner, tick: Duration = .milliseconds(500), logger: Logger) {
        self.link = link
        self.identity = identity
        self.planner = planner
        self.tick = tick
        self.logger = logger
    }

    public func run(into state: SidecarState) async {
        var leaseVersion: Int64 = -1
        var leases: [StreamKey: Lease] = [:]
        var dynamic = DynamicView()
        var frozen = false
        var lastPass: PassInputs?
        let started = ContinuousClock.now
        var everReady = false
        while !Task.isCancelled {
            everReady = everReady || state.nodeReport.ready
            let starting = !everReady && ContinuousClock.now - started < .seconds(30)
            do {
                let connection = try await link.connection()
                do {
                    try await pass(
                        connection, state: state, starting: starting, leaseVersion: &leaseVersion, leases: &leases, dynamic: &dynamic,
                        last: &lastPass)
                } catch {
                    await link.failed(connection)
                    throw error
                }
                if frozen {
                    logger.info("PostgreSQL answers again: lease assignment resumes")
                    frozen = false
                }
            } catch is CancellationError {
                return
            } catch {
                state.restoreProvisionalLeases()
                state.centreUnreachable()
                dynamic = DynamicView()
                if !frozen {
                    logger.warning(
                        "PostgreSQL unreachable: assignments frozen, serving the last lease view",
                        metadata: ["error": "\(PostgresUpstream.describe(error))"])
                    frozen = true
                }
                leaseVersion = -1
            }
            try? await Task.sleep(for: tick)
        }
    }

    /// One heartbeat-read-plan-write pass.
    func pass(
        _ connection: PostgresConnection, state: SidecarState, starting: Bool, leaseVersion: inout Int64, leases: inout [StreamKey: Lease],
        dynamic: inout DynamicView, last: inout PassInputs?
    ) async throws {
        let report = state.nodeReport
        let labels = String(decoding: try JSONEncoder().encode(identity.labels), as: UTF8.self)
        let alive = report.alive.sorted()
        let aliveBitrates = alive.map { report.bitrates[$0] ?? 0 }
        try await connection.query(
            """
            INSERT INTO estuary_nodes(name, role, advertise, labels, capacity, ready, streams, bitrate, alive, alive_bitrates, starting,
                                      heartbeat_at)
            VALUES (\(identity.hostname), \(identity.role), \(identity.advertise), \(labels)::jsonb, \(identity.capacity),
                    \(report.ready), \(report.streams), \(report.bitrate), \(alive), \(aliveBitrates), \(starting), now())
            ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, advertise = EXCLUDED.advertise, labels = EXCLUDED.labels,
                capacity = EXCLUDED.capacity, ready = EXCLUDED.ready, streams = EXCLUDED.streams, bitrate = EXCLUDED.bitrate,
                alive = EXCLUDED.alive, alive_bitrates = EXCLUDED.alive_bitrates, starting = EXCLUDED.starting, heartbeat_at = now()
            """, logger: logger)
        let nodes = try await readNodes(connection)
        try await refreshLeases(connection, leaseVersion: &leaseVersion, leases: &leases)
        await link.count(3)
        try await exchangeDynamicNames(connection, state: state, view: &dynamic)
        let since = await link.connectedSince
        let grace = Duration.milliseconds(Int64((planner.deadAfter + 0.5) * 1000))
        let mayTakeOver = since.map { ContinuousClock.now - $0 >= grace } ?? false
        // Planning is a pass over every stream: skipped when nothing it depends on changed since the last one.
        // A pass is forced every 2 s all the same (the time bucket), bounding anything these inputs miss.
        let inputs = PassInputs(
            bucket: Int(Date().timeIntervalSince1970 / 2), leaseVersion: leaseVersion, generation: state.generation, ready: report.ready,
            mayTakeOver: mayTakeOver,
            live: nodes.filter { $0.ready && $0.heartbeatAge < planner.deadAfter }.map { LiveNode(name: $0.node.name, alive: $0.alive) }
                .sorted { $0.name < $1.name },
            starting: nodes.filter { $0.starting && $0.heartbeatAge < planner.deadAfter }.map(\.node.name).sorted(),
            dynamic: dynamic.placements.mapValues(\.node))
        if let config = state.config, inputs != last {
            let actions = planner.plan(
                config: config, streams: state.plannedStreams(role: identity.role), nodes: nodes, leases: leases, ready: report.ready,
                mayTakeOver: mayTakeOver)
            if !actions.isEmpty {
                for action in actions { try await write(action, connection) }
                await link.count(actions.count)
                try await refreshLeases(connection, leaseVersion: &leaseVersion, leases: &leases)
                last = nil
            } else {
                last = inputs
            }
        }
        state.updateLeases(leases, cluster: nodes, deadAfter: planner.deadAfter)
    }

    /// The placed dynamic names of this role as last read, and the newest row version read.
    struct DynamicView {
        var version: Int64 = -1
        var placements: [StreamKey: DynamicPlacement] = [:]
    }

    /// Writes the dynamic names this sidecar was asked for (each keeps its first node; an expired one takes the new;
    /// a later expiry replaces an earlier one, never the reverse),
    /// reads the placements changed since the last pass, drops the expired ones and hands the rest to `state`.
    private func exchangeDynamicNames(_ connection: PostgresConnection, state: SidecarState, view: inout DynamicView) async throws {
        let role = identity.role
        let due = state.dynamicNamesToWrite()
        if !due.isEmpty {
            try await connection.query(
                """
                INSERT INTO estuary_dynamic(role, name, node, expires_at)
                SELECT \(role), wanted.name, wanted.node, now() + make_interval(secs => wanted.remaining)
                FROM unnest(\(due.map(\.key.name))::text[], \(due.map(\.node))::text[], \(due.map(\.expiresIn))::float8[])
                    AS wanted(name, node, remaining)
                ON CONFLICT (role, name) DO UPDATE SET expires_at = greatest(EXCLUDED.expires_at, estuary_dynamic.expires_at),
                    node = CASE WHEN estuary_dynamic.expires_at < now() THEN EXCLUDED.node ELSE estuary_dynamic.node END
                """, logger: logger)
            await link.count(1)
        }
        let rows = try await connection.query(
            """
            SELECT name, node, extract(epoch FROM expires_at - now())::float8, version FROM estuary_dynamic
            WHERE role = \(role) AND version > \(view.version)
            """, logger: logger)
        let now = ContinuousClock.now
        for try await (name, node, remaining, version) in rows.decode((String, String, Double, Int64).self) {
            let key = StreamKey(role: role, name: name)
            view.placements[key] = DynamicPlacement(key: key, node: node, expires: now + .milliseconds(Int64(remaining * 1000)))
            view.version = max(view.version, version)
        }
        view.version = max(view.version, 0)
        await link.count(1)
        view.placements = view.placements.filter { $0.value.expires > now }
        state.updateDynamic(view.placements)
    }

    /// What a planning pass depends on; equal inputs give an equal (empty) plan.
    struct PassInputs: Equatable {
        var bucket: Int
        var leaseVersion: Int64
        var generation: Int
        var ready: Bool
        var mayTakeOver: Bool
        var live: [LiveNode]
        var starting: [String]
        var dynamic: [StreamKey: String]
    }

    /// A live node and the streams alive on it (handovers complete on those).
    struct LiveNode: Equatable {
        var name: String
        var alive: Set<String>
    }

    private func readNodes(_ connection: PostgresConnection) async throws -> [NodeStatus] {
        let rows = try await connection.query(
            """
            SELECT name, role, advertise, labels::text, capacity, ready, streams, bitrate, alive, alive_bitrates, starting,
                   extract(epoch FROM now() - heartbeat_at)::float8
            FROM estuary_nodes
            """, logger: logger)
        var nodes: [NodeStatus] = []
        for try await (name, role, advertise, labels, capacity, ready, streams, bitrate, alive, aliveBitrates, starting, age)
            in rows.decode(
                (String, String, String, String, Int32, Bool, Int32, Int64, [String], [Int64], Bool, Double).self)
        {
            let labelMap = (try? JSONDecoder().decode([String: String].self, from: Data(labels.utf8))) ?? [:]
            let node = CentralNode(name: name, role: role, advertise: advertise, labels: labelMap, capacity: Int(capacity))
            let streamBitrates = Dictionary(zip(alive, aliveBitrates).map { ($0, $1) }, uniquingKeysWith: { first, _ in first })
            nodes.append(
                NodeStatus(
                    node: node, ready: ready, streams: Int(streams), bitrate: bitrate, alive: Set(alive), streamBitrates: streamBitrates,
                    heartbeatAge: age, starting: starting))
        }
        return nodes
    }

    /// Reads the lease rows changed since `version` (all of them when it is -1) into `leases`; a released row
    /// (`node = ''`) removes its stream.
    private func refreshLeases(
        _ connection: PostgresConnection, leaseVersion version: inout Int64, leases: inout [StreamKey: Lease]
    ) async throws {
        if version < 0 { leases = [:] }
        var newest = version
        let rows = try await connection.query(
            "SELECT role, stream, node, next_node, epoch, version FROM estuary_leases WHERE version > \(version)", logger: logger)
        for try await (role, stream, node, next, epoch, changed) in rows.decode((String, String, String, String?, Int64, Int64).self) {
            let key = StreamKey(role: role, name: stream)
            leases[key] = node.isEmpty ? nil : Lease(node: node, nextNode: next, epoch: epoch)
            newest = max(newest, changed)
        }
        version = max(newest, 0)
    }

    private func write(_ action: LeaseAction, _ connection: PostgresConnection) async throws {
        let me = identity.hostname
        let role = identity.role
        switch action {
        case .claim(let names):
            try await connection.query(
                """
                INSERT INTO estuary_leases(role, stream, node, epoch) SELECT \(role), unnest(\(names)::text[]), \(me), 1
                ON CONFLICT (role, stream) DO UPDATE SET node = EXCLUDED.node, next_node = NULL, epoch = estuary_leases.epoch + 1
                WHERE estuary_leases.node = ''
                """, logger: logger)
            logger.info("claimed streams", metadata: ["count": "\(names.count)", "first": "\(names.first ?? "")"])
        case .takeOver(let from, let names):
            try await connection.query(
                """
                UPDATE estuary_leases SET node = \(me), next_node = NULL, epoch = epoch + 1, updated_at = now()
                WHERE role = \(role) AND stream = ANY(\(names)::text[]) AND node = \(from)
                """, logger: logger)
            logger.warning("took over streams from a dead node", metadata: ["from": "\(from)", "count": "\(names.count)"])
        case .requestHandover(let name, let epoch):
            try await connection.query(
                """
                UPDATE estuary_leases SET next_node = \(me), epoch = epoch + 1, updated_at = now()
                WHERE role = \(role) AND stream = \(name) AND epoch = \(epoch) AND next_node IS NULL
                """, logger: logger)
            logger.info("asked for a handover", metadata: ["stream": "\(name)"])
        case .completeHandover(let name, let to, let epoch):
            try await connection.query(
                """
                UPDATE estuary_leases SET node = \(to), next_node = NULL, epoch = epoch + 1, updated_at = now()
                WHERE role = \(role) AND stream = \(name) AND epoch = \(epoch) AND node = \(me)
                """, logger: logger)
            logger.info("handed a stream over", metadata: ["stream": "\(name)", "to": "\(to)"])
        case .cancelHandover(let name, let epoch):
            try await connection.query(
                """
                UPDATE estuary_leases SET next_node = NULL, epoch = epoch + 1, updated_at = now()
                WHERE role = \(role) AND stream = \(name) AND epoch = \(epoch)
                """, logger: logger)
        case .release(let names):
            try await connection.query(
                """
                UPDATE estuary_leases SET node = '', next_node = NULL, epoch = epoch + 1
                WHERE role = \(role) AND node = \(me) AND stream = ANY(\(names)::text[])
                """, logger: logger)
            logger.info("released streams", metadata: ["count": "\(names.count)"])
        }
    }
}
