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
    /// Tells a node whose heartbeat stopped but whose process still listens from one that is gone.
    public let reachability: NodeReachability
    let logger: Logger
    /// This node's labels as the JSON its heartbeat writes.
    private let labelsJSON: String

    /// Creates a coordinator.
    public init(
        link: PostgresLink, identity: SidecarIdentity, planner: LeasePlanner, tick: Duration = .milliseconds(500),
        reachability: NodeReachability = NodeReachability(), logger: Logger
    ) {
        self.link = link
        self.identity = identity
        self.planner = planner
        self.tick = tick
        self.reachability = reachability
        self.logger = logger
        self.labelsJSON = String(decoding: (try? JSONEncoder().encode(identity.labels)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// Heartbeats and lease passes, each every ``tick``, until cancelled. They run apart: a pass slowed down
    /// (thousands of lease rows to read and plan while a cluster starts, on starved cores) must not make the
    /// heartbeat late, or the other sidecars see this node dead and take its streams.
    public func run(into state: SidecarState) async {
        await withDiscardingTaskGroup { group in
            group.addTask { await heartbeats(from: state) }
            group.addTask { await passes(into: state) }
        }
    }

    /// Writes this node's heartbeat every ``tick``. A failure is left to the passes to report (they freeze).
    func heartbeats(from state: SidecarState) async {
        let started = ContinuousClock.now
        var everReady = false
        while !Task.isCancelled {
            everReady = everReady || state.nodeReport.ready
            let starting = !everReady && ContinuousClock.now - started < .seconds(30)
            if let connection = try? await link.connection() {
                do {
                    try await heartbeat(connection, report: state.nodeReport, starting: starting)
                    await link.count(1)
                } catch {
                    await link.failed(connection)
                }
            }
            try? await Task.sleep(for: tick)
        }
    }

    func passes(into state: SidecarState) async {
        var leaseVersion: Int64 = -1
        var leases: [StreamKey: Lease] = [:]
        // The keys of the lease rows read since the view was last handed to the state (`nil`: a full read).
        var touched: Set<StreamKey>?
        var dynamic = ReadCursor()
        var joining = JoinWatch()
        var frozen = false
        var lastPass: PassInputs?
        var deadSince: [String: ContinuousClock.Instant] = [:]
        var unresponsive: Set<String> = []
        var unapplied: Set<String> = []
        while !Task.isCancelled {
            do {
                let connection = try await link.connection()
                do {
                    try await pass(
                        connection, state: state, leaseVersion: &leaseVersion, leases: &leases, touched: &touched, dynamic: &dynamic,
                        joining: &joining, deadSince: &deadSince, unresponsive: &unresponsive, unapplied: &unapplied, last: &lastPass)
                } catch {
                    await link.failed(connection)
                    throw error
                }
                if frozen {
                    logger.info("PostgreSQL answers again: lease assignment resumes")
                    frozen = false
                }
            } catch {
                // Only the task's own cancellation ends the passes (the heartbeats would go on without them).
                if Task.isCancelled { return }
                state.restoreProvisionalLeases()
                state.centreUnreachable()
                dynamic = ReadCursor()
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

    /// Registers this node or refreshes its row: readiness, load, what is alive on it, and the time.
    func heartbeat(_ connection: PostgresConnection, report: NodeReport, starting: Bool) async throws {
        let alive = report.alive.sorted()
        let aliveBitrates = alive.map { report.bitrates[$0] ?? 0 }
        try await connection.query(
            """
            INSERT INTO estuary_nodes(name, role, advertise, labels, capacity, ready, streams, bitrate, alive, alive_bitrates, starting,
                                      heartbeat_at)
            VALUES (\(identity.hostname), \(identity.role), \(identity.advertise), \(labelsJSON)::jsonb, \(identity.capacity),
                    \(report.ready), \(report.streams), \(report.bitrate), \(alive), \(aliveBitrates), \(starting), now())
            ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, advertise = EXCLUDED.advertise, labels = EXCLUDED.labels,
                capacity = EXCLUDED.capacity, ready = EXCLUDED.ready, streams = EXCLUDED.streams, bitrate = EXCLUDED.bitrate,
                alive = EXCLUDED.alive, alive_bitrates = EXCLUDED.alive_bitrates, starting = EXCLUDED.starting, heartbeat_at = now()
            """, logger: logger)
    }

    /// One read-plan-write pass (the heartbeat is written apart, by ``heartbeats(from:)``).
    func pass(
        _ connection: PostgresConnection, state: SidecarState, leaseVersion: inout Int64, leases: inout [StreamKey: Lease],
        touched: inout Set<StreamKey>?, dynamic: inout ReadCursor, joining: inout JoinWatch,
        deadSince: inout [String: ContinuousClock.Instant],
        unresponsive: inout Set<String>, unapplied: inout Set<String>, last: inout PassInputs?
    ) async throws {
        let report = state.nodeReport
        let nodes = try await readNodes(connection)
        try await writeDynamicNames(connection, state: state)
        try await refreshLeases(connection, leaseVersion: &leaseVersion, leases: &leases, touched: &touched, dynamic: &dynamic)
        await link.count(2)
        let now = ContinuousClock.now
        dynamic.placements = dynamic.placements.filter { $0.value.expires + DynamicPlacement.holderGrace > now }
        state.updateDynamic(dynamic.placements)
        let since = await link.connectedSince
        let grace = Duration.milliseconds(Int64((planner.deadAfter + 0.5) * 1000))
        let mayTakeOver = since.map { ContinuousClock.now - $0 >= grace } ?? false
        let live = nodes.filter { $0.isLive(deadAfter: planner.deadAfter) }
        let mayClaim = joining.settled(live: Set(live.filter { $0.node.role == identity.role }.map(\.node.name)), now: now)
        // When this sidecar, able to take over, first saw each dead node of its role (forgotten while it may not).
        let dead = Set(nodes.filter { $0.node.role == identity.role && $0.heartbeatAge >= planner.deadAfter }.map(\.node.name))
        deadSince = mayTakeOver ? deadSince.filter { dead.contains($0.key) } : [:]
        if mayTakeOver { for name in dead where deadSince[name] == nil { deadSince[name] = now } }
        let orphaned = Set(deadSince.filter { now - $0.value >= LeasePlanner.orphanGrace }.keys)
        // Only when it may take over: right after an outage of PostgreSQL every heartbeat looks stale.
        let nowUnresponsive = mayTakeOver ? await unresponsiveNodes(nodes, leases: leases) : []
        for name in nowUnresponsive.subtracting(unresponsive) {
            logger.warning(
                "no heartbeat from a node that still accepts connections: its streams stay with it",
                metadata: ["node": "\(name)", "for_up_to_seconds": "\(LeasePlanner.unresponsiveLimit)"])
        }
        unresponsive = nowUnresponsive
        // Planning is a pass over every stream (milliseconds at 10,000): skipped when nothing it depends on changed
        // since the last one. A pass is forced every 10 s all the same (the time bucket), bounding anything these
        // inputs miss. Each node's buckets are shifted by its own phase: fifty sidecars planning at the same
        // wall-clock second saturated the cores for a second and held every node's `GET /streams` back.
        let inputs = PassInputs(
            bucket: Int((Date().timeIntervalSince1970 + planPhase) / Self.forcedPlanSeconds),
            leaseVersion: leaseVersion, generation: state.generation,
            ready: report.ready, mayTakeOver: mayTakeOver, mayClaim: mayClaim,
            orphaned: orphaned.sorted(), unresponsive: unresponsive.sorted(),
            live: live.map { LiveNode(name: $0.node.name, alive: $0.alive) }.sorted { $0.name < $1.name },
            starting: nodes.filter { $0.starting && $0.heartbeatAge < planner.deadAfter }.map(\.node.name).sorted(),
            dynamic: dynamic.placements.mapValues(\.node))
        if let config = state.config, inputs != last {
            let actions = planner.plan(
                config: config, streams: state.plannedStreams(role: identity.role), nodes: nodes, leases: leases, ready: report.ready,
                mayTakeOver: mayTakeOver, mayClaim: mayClaim, orphaned: orphaned, unresponsive: unresponsive)
            if !actions.isEmpty {
                let written = try await write(actions, connection)
                await link.count(written.statements)
                // A claim or take-over that changes no row means this view and PostgreSQL disagree about those
                // streams; the next incremental read settles a race lost to another sidecar. The same streams
                // failing twice in a row means rows this view never received: every lease is read again.
                let repeated = written.unapplied.intersection(unapplied)
                if !repeated.isEmpty {
                    logger.warning(
                        "lease view disagrees with PostgreSQL: reading every lease again",
                        metadata: ["streams": "\(repeated.count)", "first": "\(repeated.min() ?? "")"])
                    leaseVersion = -1
                    unapplied = []
                } else {
                    unapplied = written.unapplied
                }
                try await refreshLeases(connection, leaseVersion: &leaseVersion, leases: &leases, touched: &touched, dynamic: &dynamic)
                last = nil
            } else {
                last = inputs
                // Nothing left to claim: a stream that fails again later is a new disagreement, not a repeated one.
                unapplied = []
            }
        }
        await state.updateLeases(leases, touched: touched, cluster: nodes, deadAfter: planner.deadAfter)
        touched = []
    }

    /// The seconds between two plans forced without a change in their inputs.
    static let forcedPlanSeconds = 10.0

    /// This node's shift of the forced-plan buckets, in `0..<forcedPlanSeconds`: ``planPhase(of:)`` of its hostname.
    var planPhase: Double { Self.planPhase(of: identity.hostname) }

    /// A shift of the forced-plan buckets that is the same for a hostname on every run and spreads different
    /// hostnames over the whole period (FNV-1a of the name, in milliseconds), so the sidecars of a cluster started
    /// together do not plan together.
    static func planPhase(of hostname: String) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in hostname.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let milliseconds = hash % UInt64(forcedPlanSeconds * 1000)
        return Double(milliseconds) / 1000
    }

    /// The other nodes of this role that hold leases, have no heartbeat for ``LeasePlanner/deadAfter`` (but for less
    /// than ``LeasePlanner/unresponsiveLimit``), and still accept a connection at their advertised address.
    func unresponsiveNodes(_ nodes: [NodeStatus], leases: [StreamKey: Lease]) async -> Set<String> {
        let late = nodes.filter {
            $0.node.role == identity.role && $0.node.name != identity.hostname && $0.heartbeatAge >= planner.deadAfter
                && $0.heartbeatAge < LeasePlanner.unresponsiveLimit && !$0.node.advertise.isEmpty
        }
        guard !late.isEmpty else { return [] }
        let addresses = Dictionary(late.map { ($0.node.name, $0.node.advertise) }, uniquingKeysWith: { first, _ in first })
        let holding = Set(leases.lazy.filter { $0.key.role == identity.role && addresses[$0.value.node] != nil }.map(\.value.node))
        guard !holding.isEmpty else { return [] }
        return await reachability.accepting(addresses.filter { holding.contains($0.key) })
    }

    /// Whether the role's nodes stopped joining: no node this sidecar had never seen live has appeared for
    /// ``settle`` (a node coming back, or a heartbeat late under load, does not count). While sidecars keep
    /// registering (a cluster starting, a scale-up), streams nobody holds are not claimed yet, so that the first
    /// ones up do not take everything and hand most of it back by handovers.
    struct JoinWatch {
        static let settle: Duration = .seconds(2)
        var seen: Set<String> = []
        var grewAt: ContinuousClock.Instant?

        mutating func settled(live: Set<String>, now: ContinuousClock.Instant) -> Bool {
            if !live.isSubset(of: seen) {
                grewAt = now
                seen.formUnion(live)
            }
            return grewAt.map { now - $0 >= Self.settle } ?? true
        }
    }

    /// Where the incremental reads of `estuary_leases` and `estuary_dynamic` stand: the newest dynamic-name
    /// version read, the transactions running at the last read, and this role's placed dynamic names.
    struct ReadCursor {
        var version: Int64 = -1
        var placements: [StreamKey: DynamicPlacement] = [:]
        /// The transactions still running at the last read of leases and dynamic names (PostgreSQL
        /// `pg_snapshot_xip`): rows they write are read again, whatever their version. (A transaction started
        /// after that read takes versions above every one read then, so `version >` finds its rows.)
        var inFlight: [String] = []
        /// The snapshot's `xmax` at the last read: transactions with an id at or above it were not listed as
        /// running even when they were (PostgreSQL lists only those below it), so rows they write are read again
        /// too, whatever their version. `"0"` before the first read.
        var horizon = "0"
        /// The version of every lease row read (released ones included) and their sum: what the audit compares
        /// with the table's row count and version sum.
        var leaseRows: [StreamKey: Int64] = [:]
        var leaseRowSum: Int64 = 0
        /// When the lease view was last audited (or read whole).
        var auditedAt: ContinuousClock.Instant?
    }

    /// How often a lease read also counts the table's rows and sums their versions, in the read's own snapshot,
    /// to check that the incremental reads missed nothing.
    static let auditInterval: Duration = .seconds(5)

    /// Writes the dynamic names this sidecar was asked for: each keeps the node of its first ask (an expired one
    /// takes the new), and a later expiry replaces an earlier one, never the reverse.
    private func writeDynamicNames(_ connection: PostgresConnection, state: SidecarState) async throws {
        let due = state.dynamicNamesToWrite()
        guard !due.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO estuary_dynamic(role, name, node, expires_at)
            SELECT \(identity.role), wanted.name, wanted.node, now() + make_interval(secs => wanted.remaining)
            FROM unnest(\(due.map(\.key.name))::text[], \(due.map(\.node))::text[], \(due.map(\.expiresIn))::float8[])
                AS wanted(name, node, remaining)
            ON CONFLICT (role, name) DO UPDATE SET expires_at = greatest(EXCLUDED.expires_at, estuary_dynamic.expires_at),
                node = CASE WHEN estuary_dynamic.expires_at < now() THEN EXCLUDED.node ELSE estuary_dynamic.node END
            """, logger: logger)
        await link.count(1)
    }

    /// What a planning pass depends on; equal inputs give an equal (empty) plan.
    struct PassInputs: Equatable {
        var bucket: Int
        var leaseVersion: Int64
        var generation: Int
        var ready: Bool
        var mayTakeOver: Bool
        var mayClaim: Bool
        /// Nodes seen dead for the orphan grace (their streams may be taken by any live node).
        var orphaned: [String]
        /// Nodes without a heartbeat that still accept connections (their streams stay).
        var unresponsive: [String]
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
        for try await row in rows {
            var columns = PostgresRowReader(row)
            let name: String = try columns.next()
            let role: String = try columns.next()
            let advertise: String = try columns.next()
            let labels: String = try columns.next()
            let capacity: Int32 = try columns.next()
            let ready: Bool = try columns.next()
            let streams: Int32 = try columns.next()
            let bitrate: Int64 = try columns.next()
            let alive: [String] = try columns.next()
            let aliveBitrates: [Int64] = try columns.next()
            let starting: Bool = try columns.next()
            let age: Double = try columns.next()
            // Most nodes have no labels: no decoder for those (this runs for every node on every pass).
            let labelMap = labels == "{}" ? [:] : (try? JSONDecoder().decode([String: String].self, from: Data(labels.utf8))) ?? [:]
            let node = CentralNode(name: name, role: role, advertise: advertise, labels: labelMap, capacity: Int(capacity))
            let streamBitrates = Dictionary(zip(alive, aliveBitrates).map { ($0, $1) }, uniquingKeysWith: { first, _ in first })
            nodes.append(
                NodeStatus(
                    node: node, ready: ready, streams: Int(streams), bitrate: bitrate, alive: Set(alive), streamBitrates: streamBitrates,
                    heartbeatAge: age, starting: starting))
        }
        return nodes
    }

    /// Reads the lease rows changed since `version` (all of them when it is -1) into `leases`, a released row
    /// (`node = ''`) removing its stream, and in the same query this role's dynamic-name rows changed since
    /// `dynamic.version` into `dynamic` (each with its expiry as seconds from now). Each lease row's key joins
    /// `touched`, which a full read sets to `nil`. Every ``auditInterval`` the read also checks the view against
    /// the table (row count and version sum) and reads every lease again when they differ.
    func refreshLeases(
        _ connection: PostgresConnection, leaseVersion version: inout Int64, leases: inout [StreamKey: Lease],
        touched: inout Set<StreamKey>?, dynamic: inout ReadCursor
    ) async throws {
        let now = ContinuousClock.now
        if version < 0 {
            leases = [:]
            touched = nil
            dynamic.leaseRows = [:]
            dynamic.leaseRowSum = 0
            dynamic.auditedAt = now
        }
        // Every ``auditInterval`` the read also returns the table's row count and version sum. After the rows read
        // are applied, the view must hold every row of that snapshot at its version: a difference is a row the
        // incremental reads missed, and the view is read whole again. A safety net: a view missing rows (before the
        // `xmax` part below) planned claims of held streams and take-overs from a wrong load, and kept its gap
        // until one of those streams was planned for it.
        let audit = version >= 0 && dynamic.auditedAt.map { now - $0 >= Self.auditInterval } ?? true
        if dynamic.version < 0 { dynamic.placements = [:] }
        var newest = version
        var newestDynamic = dynamic.version
        // Kept while only the leases are read again (a view that disagreed): the dynamic-name part still needs them.
        if version < 0 && dynamic.version < 0 {
            dynamic.inFlight = []
            dynamic.horizon = "0"
        }
        // Rows changed since the last read: a newer version, or written by a transaction that may have been running
        // at the last read (it may have taken its version before rows this sidecar already read): one listed as
        // running then, or one whose id is at or above that snapshot's `xmax`, which PostgreSQL does not list
        // (a claim of many rows by a newer transaction, interleaving its versions with an older one's that
        // committed first, lost rows that way: lease views missing rows in runs of fifty sidecars). Each part on
        // its own index (an OR of them made PostgreSQL scan the whole table). The last parts give the running
        // transactions and `xmax` now, for the next read. The upper bound on `version` (``PostgresSchema/versionUpperBound``) keeps
        // the index in use while the table has no statistics yet: in the first minute after a cluster's claims,
        // every pass of every sidecar scanned all 10,000 rows without it.
        let rows = try await connection.query(
            """
            SELECT 0, role, stream, node, next_node, epoch, version, 0::float8, '' FROM estuary_leases
            WHERE version > \(version) AND version <= \(PostgresSchema.versionUpperBound)
            UNION ALL
            SELECT 0, role, stream, node, next_node, epoch, version, 0::float8, '' FROM estuary_leases
            WHERE writer = ANY(\(dynamic.inFlight)::text[]::xid8[]) AND version <= \(version)
            UNION ALL
            SELECT 0, role, stream, node, next_node, epoch, version, 0::float8, '' FROM estuary_leases
            WHERE writer >= \(dynamic.horizon)::text::xid8 AND version <= \(version)
            UNION ALL
            SELECT 1, role, name, node, NULL, 0, version, extract(epoch FROM expires_at - now())::float8, '' FROM estuary_dynamic
            WHERE role = \(identity.role) AND version > \(dynamic.version) AND version <= \(PostgresSchema.versionUpperBound)
            UNION ALL
            SELECT 1, role, name, node, NULL, 0, version, extract(epoch FROM expires_at - now())::float8, '' FROM estuary_dynamic
            WHERE role = \(identity.role) AND writer = ANY(\(dynamic.inFlight)::text[]::xid8[]) AND version <= \(dynamic.version)
            UNION ALL
            SELECT 1, role, name, node, NULL, 0, version, extract(epoch FROM expires_at - now())::float8, '' FROM estuary_dynamic
            WHERE role = \(identity.role) AND writer >= \(dynamic.horizon)::text::xid8 AND version <= \(dynamic.version)
            UNION ALL
            SELECT 2, '', '', pg_snapshot_xmax(pg_current_snapshot())::text, NULL, 0, 0, 0::float8,
                coalesce(string_agg(running::text, ','), '')
            FROM pg_snapshot_xip(pg_current_snapshot()) AS running
            UNION ALL
            SELECT 3, '', '', '', NULL, count(*), coalesce(sum(version), 0)::int8, 0::float8, '' FROM estuary_leases WHERE \(audit)
            """, logger: logger)
        // Expiries count from when the answer arrived (on starved cores the query may take a while).
        let answered = ContinuousClock.now
        var table: (rows: Int64, sum: Int64)?
        for try await row in rows {
            var columns = PostgresRowReader(row)
            let kind: Int32 = try columns.next()
            let role: String = try columns.next()
            let stream: String = try columns.next()
            let node: String = try columns.next()
            let next: String? = try columns.next()
            let epoch: Int64 = try columns.next()
            let changed: Int64 = try columns.next()
            let expiresIn: Double = try columns.next()
            let running: String = try columns.next()
            if kind == 2 {
                // The snapshot's running transactions, and its `xmax` in the `node` column.
                dynamic.inFlight = running.split(separator: ",").map(String.init)
                dynamic.horizon = node
                continue
            }
            if kind == 3 {
                table = (epoch, changed)
                continue
            }
            let key = StreamKey(role: role, name: stream)
            if kind == 1 {
                dynamic.placements[key] = DynamicPlacement(key: key, node: node, expires: answered + .milliseconds(Int64(expiresIn * 1000)))
                newestDynamic = max(newestDynamic, changed)
            } else {
                leases[key] = node.isEmpty ? nil : Lease(node: node, nextNode: next, epoch: epoch)
                touched?.insert(key)
                newest = max(newest, changed)
                dynamic.leaseRowSum &+= changed &- (dynamic.leaseRows.updateValue(changed, forKey: key) ?? 0)
            }
        }
        version = max(newest, 0)
        dynamic.version = max(newestDynamic, 0)
        guard audit, let table else { return }
        dynamic.auditedAt = now
        guard table.rows != Int64(dynamic.leaseRows.count) || table.sum != dynamic.leaseRowSum else { return }
        logger.warning(
            "lease view missed rows: reading every lease again",
            metadata: [
                "rows": "\(table.rows)", "rows_in_view": "\(dynamic.leaseRows.count)", "version_sum": "\(table.sum)",
                "version_sum_in_view": "\(dynamic.leaseRowSum)",
            ])
        version = -1
        try await refreshLeases(connection, leaseVersion: &version, leases: &leases, touched: &touched, dynamic: &dynamic)
    }

    /// Writes a pass's actions: claims, take-overs and releases as they come (each names many streams), the
    /// single-stream handover steps gathered into one statement per kind (a rebalancing pass may ask for twenty).
    /// Returns the statements sent, and the streams claimed or taken over whose rows did not change (another
    /// node holds them, or no longer the one this view named).
    private func write(
        _ actions: [LeaseAction], _ connection: PostgresConnection
    ) async throws -> (statements: Int, unapplied: Set<String>) {
        var unapplied: Set<String> = []
        var requests: [(name: String, epoch: Int64)] = []
        var completions: [(name: String, to: String, epoch: Int64)] = []
        var cancels: [(name: String, epoch: Int64)] = []
        var statements = 0
        let me = identity.hostname
        let role = identity.role
        for action in actions {
            switch action {
            case .requestHandover(let name, let epoch): requests.append((name, epoch))
            case .completeHandover(let name, let to, let epoch): completions.append((name, to, epoch))
            case .cancelHandover(let name, let epoch): cancels.append((name, epoch))
            case .claim(let names):
                let claimed = try await connection.query(
                    """
                    INSERT INTO estuary_leases(role, stream, node, epoch) SELECT \(role), claimed, \(me), 1
                    FROM unnest(\(names)::text[]) AS claimed
                    ON CONFLICT (role, stream) DO UPDATE SET node = EXCLUDED.node, next_node = NULL, epoch = estuary_leases.epoch + 1
                    WHERE estuary_leases.node = ''
                    RETURNING stream
                    """, logger: logger
                ).collect()
                unapplied.formUnion(Set(names).subtracting(try claimed.map { try $0.decode(String.self) }))
                logger.info(
                    "claimed streams", metadata: ["count": "\(claimed.count)", "asked": "\(names.count)", "first": "\(names.first ?? "")"])
                statements += 1
            case .takeOver(let from, let names):
                let taken = try await connection.query(
                    """
                    UPDATE estuary_leases SET node = \(me), next_node = NULL, epoch = epoch + 1, updated_at = now()
                    WHERE role = \(role) AND stream = ANY(\(names)::text[]) AND node = \(from)
                    RETURNING stream
                    """, logger: logger
                ).collect()
                unapplied.formUnion(Set(names).subtracting(try taken.map { try $0.decode(String.self) }))
                if !taken.isEmpty {
                    logger.warning(
                        "took over streams from a dead node",
                        metadata: ["from": "\(from)", "count": "\(taken.count)", "asked": "\(names.count)"])
                }
                statements += 1
            case .release(let names):
                try await connection.query(
                    """
                    UPDATE estuary_leases SET node = '', next_node = NULL, epoch = epoch + 1
                    WHERE role = \(role) AND node = \(me) AND stream = ANY(\(names)::text[])
                    """, logger: logger)
                logger.info("released streams", metadata: ["count": "\(names.count)"])
                statements += 1
            }
        }
        // Each batch finds its rows through the primary key (`stream = ANY(…)`), then checks the epochs it saw.
        if !requests.isEmpty {
            let names = requests.map(\.name)
            try await connection.query(
                """
                UPDATE estuary_leases AS lease SET next_node = \(me), epoch = lease.epoch + 1, updated_at = now()
                WHERE lease.role = \(role) AND lease.stream = ANY(\(names)::text[]) AND lease.next_node IS NULL
                    AND (lease.stream, lease.epoch) IN (SELECT * FROM unnest(\(names)::text[], \(requests.map(\.epoch))::int8[]))
                """, logger: logger)
            statements += 1
            logger.info("asked for handovers", metadata: ["count": "\(requests.count)", "first": "\(requests[0].name)"])
        }
        if !completions.isEmpty {
            let names = completions.map(\.name)
            try await connection.query(
                """
                UPDATE estuary_leases AS lease SET next_node = NULL, epoch = lease.epoch + 1, updated_at = now(),
                    node = (SELECT done.next FROM unnest(\(names)::text[], \(completions.map(\.to))::text[]) AS done(stream, next)
                            WHERE done.stream = lease.stream LIMIT 1)
                WHERE lease.role = \(role) AND lease.stream = ANY(\(names)::text[]) AND lease.node = \(me)
                    AND (lease.stream, lease.epoch) IN (SELECT * FROM unnest(\(names)::text[], \(completions.map(\.epoch))::int8[]))
                """, logger: logger)
            statements += 1
            logger.info("handed streams over", metadata: ["count": "\(completions.count)", "first": "\(completions[0].name)"])
        }
        if !cancels.isEmpty {
            let names = cancels.map(\.name)
            try await connection.query(
                """
                UPDATE estuary_leases AS lease SET next_node = NULL, epoch = lease.epoch + 1, updated_at = now()
                WHERE lease.role = \(role) AND lease.stream = ANY(\(names)::text[])
                    AND (lease.stream, lease.epoch) IN (SELECT * FROM unnest(\(names)::text[], \(cancels.map(\.epoch))::int8[]))
                """, logger: logger)
            statements += 1
        }
        return (statements, unapplied)
    }
}
