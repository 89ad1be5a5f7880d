import EstuaryConfig
import Foundation
import Logging
import Synchronization

/// What the sidecar serves from: the replicated configuration, the lease view and the upstream's health.
/// Every request is answered from here, in memory, under one lock; nothing on the request path waits for the
/// upstream or the disk.
///
/// Guarantees:
/// - A configuration becomes visible only after the replica stored it, so what was served survives a restart.
/// - Until a configuration was loaded (from the replica or the upstream) the streams endpoints answer
///   "not ready" instead of an empty list, which would stop every stream on the node.
/// - In capture-once mode (``leases`` set) a stream is served to the node that holds its lease or is taking it
///   over; in static mode to every node its `capture_at` selects (all nodes of its role without one). A replicated
///   DVR stream (`dvr.replicate`) follows the static rule in both modes.
/// - A stream kept as stored text (a first read from PostgreSQL, the replica) is decoded and checked when first
///   served: one that fails is not served (a version this node served before stays served) and is logged once
///   with its field. Changed rows are checked by the upstream, which keeps the running version of a bad edit.
public final class SidecarState: Sendable {
    /// The upstream's health as reported in `/status`.
    public struct Health: Sendable, Equatable {
        /// `ok`, `upstream_unreachable`, `invalid_configuration`, or `no_configuration` (nothing to serve yet).
        public var state: String
        /// The last error's text, if any.
        public var error: String?
        /// Since when the error lasts.
        public var errorSince: Date?
        /// When the configuration served was last confirmed by the upstream.
        public var syncedAt: Date?
    }

    struct State {
        /// Bumped by every change a node's stream list depends on; ``selections`` made before it are stale.
        var viewVersion = 0
        /// Each asking host's streams, as chosen at ``viewVersion`` (a request reads them instead of testing
        /// every stream of the role: at 10,000 streams that test was most of a 5 ms answer).
        var selections: [String: Selection] = [:]
        var config: CentralConfig? { didSet { viewVersion &+= 1 } }
        /// Each served stream's configuration and wire JSON, decoded and encoded when first served (a sidecar
        /// serves only its node's share); kept after the stream changes, as its last good version.
        var wire: [StreamKey: Encoded] = [:]
        /// The streams whose stored text failed its check, as last reported (each is reported once).
        var rejected: [StreamKey: CentralStream] = [:]
        /// Each role's streams sorted by name, rebuilt with each configuration (not per request).
        var ordered: [String: [CentralStream]] = [:] { didSet { viewVersion &+= 1 } }
        var syncedAt: Date?
        var error: String?
        var errorState: String?
        var errorSince: Date?
        /// `nil` in static mode.
        var leases: [StreamKey: Lease]? { didSet { viewVersion &+= 1 } }
        /// The replica's lease view, held back until PostgreSQL confirms or is found unreachable.
        var provisional: [StreamKey: Lease]?
        /// The lease view the replica file holds (`nil`: unknown, so the next write replaces it whole).
        var storedLeases: [StreamKey: Lease]?
        /// Every key whose lease may differ between ``storedLeases`` and ``leases`` (`nil`: unknown, compare all).
        var unstoredLeaseKeys: Set<StreamKey>?
        /// Whether ``leases`` is the view the lease passes delivered last (not the replica's, held or restored),
        /// so that a pass's changed keys are all that may differ from it.
        var leasesDelivered = false
        /// The replica's last configuration write failed (rolled back): the file may not hold ``config``, so the
        /// next write replaces it whole instead of writing the difference from ``config``.
        var replicaBehind = false
        var cluster: [String: NodeStatus] = [:]
        var resolved: [String: String] = [:]
        var nodeReport = NodeReport.unreachable
        var requests = 0
        var generation = 0
        /// Heartbeat age after which a node of ``cluster`` is dead.
        var deadAfter = 2.0
        /// Whether the last lease pass reached PostgreSQL (dynamic names are placed only then).
        var centreReachable = false
        /// The dynamic names placed in the cluster (capture-once mode), from PostgreSQL.
        var dynamic: [StreamKey: DynamicPlacement] = [:]
        /// Each role's streams sorted by name, the placed dynamic names included (``ordered`` when there are none).
        var planned: [String: [CentralStream]] = [:] { didSet { viewVersion &+= 1 } }
        /// Dynamic names this sidecar was asked for, to be written to PostgreSQL.
        var wanted: [StreamKey: WantedName] = [:]
    }

    /// A served stream: the entry it was decoded from, its configuration and its wire JSON.
    struct Encoded {
        var stream: CentralStream
        var config: StreamConfig
        var wire: Data
    }

    /// The streams one host runs, as chosen at a ``State/viewVersion`` for that host's node description.
    struct Selection {
        var version: Int
        var node: CentralNode
        var streams: [CentralStream]
    }

    /// A dynamic name this sidecar was asked for: where it goes, when it was last asked for, and when that was
    /// last written to PostgreSQL.
    struct WantedName {
        var node: String
        var askedAt: ContinuousClock.Instant
        var writtenAt: ContinuousClock.Instant?
    }

    /// This sidecar's node.
    public let identity: SidecarIdentity
    let replica: ConfigReplica?
    let logger: Logger
    private let state = Mutex(State())

    /// Creates the state and loads what the replica holds.
    public init(identity: SidecarIdentity, replica: ConfigReplica?, logger: Logger) {
        self.identity = identity
        self.replica = replica
        self.logger = logger
        guard let replica else { return }
        do {
            if let snapshot = try replica.load() {
                state.withLock { state in
                    state.config = snapshot.config
                    state.ordered = Self.ordered(snapshot.config)
                    state.planned = state.ordered
                    state.syncedAt = snapshot.syncedAt
                    if !snapshot.leases.isEmpty { state.leases = snapshot.leases }
                    state.storedLeases = snapshot.leases
                }
                logger.info(
                    "serving the replica",
                    metadata: ["streams": "\(snapshot.config.streams.count)", "synced_at": "\(snapshot.syncedAt)"])
            }
        } catch {
            logger.error("replica unreadable: waiting for the upstream", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Updates

    /// Takes a whole configuration from the upstream: stored in the replica first, then served.
    /// One upstream delivers at a time: the configuration read before the write is still the one served after it.
    public func deliver(_ config: CentralConfig) async {
        let (previous, behind) = state.withLock { ($0.config, $0.replicaBehind) }
        let now = Date()
        if previous == config, !behind {
            try? await replica?.touch(syncedAt: now)
            confirm()
            return
        }
        if let replica {
            do {
                try await replica.store(config, previous: behind ? nil : previous, syncedAt: now)
                state.withLock { $0.replicaBehind = false }
            } catch {
                state.withLock { $0.replicaBehind = true }
                logger.error("replica write failed: serving the new configuration from memory", metadata: ["error": "\(error)"])
            }
        }
        if previous == config {
            confirm()
            return
        }
        let ordered = Self.ordered(config)
        state.withLock { state in
            state.config = config
            // Encodings stay while their stream does: one that changed is made again when served, and stays the
            // last good version if the new text fails its check.
            state.wire = state.wire.filter { key, _ in config.streams[key] != nil }
            state.rejected = state.rejected.filter { key, _ in config.streams[key] != nil }
            state.ordered = ordered
            state.planned = Self.planned(config, ordered: ordered, dynamic: state.dynamic)
            state.generation += 1
            state.syncedAt = now
            state.error = nil
            state.errorState = nil
            state.errorSince = nil
        }
        logger.info("configuration updated", metadata: ["streams": "\(config.streams.count)"])
        prepareOwnAnswer()
    }

    /// Chooses and encodes the streams of this sidecar's own node now, after a change, so that the node's next
    /// `GET /streams` reads them instead of encoding hundreds of streams on the request path.
    private func prepareOwnAnswer() {
        _ = streams(for: identity.hostname)
    }

    /// Records that the upstream answered and nothing changed.
    public func confirm() {
        state.withLock { state in
            if state.error != nil, state.config != nil {
                logger.info("upstream answers again")
            }
            state.syncedAt = Date()
            state.error = nil
            state.errorState = nil
            state.errorSince = nil
        }
    }

    /// Records an upstream failure; the last good configuration stays served.
    /// - Parameter state: `upstream_unreachable` or `invalid_configuration`.
    public func fail(_ kind: String, _ message: String) {
        let first = state.withLock { state -> Bool in
            let first = state.error != message
            if state.errorSince == nil { state.errorSince = Date() }
            state.error = message
            state.errorState = kind
            return first
        }
        if first {
            logger.warning("upstream: \(kind): keeping the last good configuration", metadata: ["error": "\(message)"])
        }
    }

    /// Switches to capture-once mode with this lease view and cluster view (PostgreSQL answered).
    ///
    /// Called by one lease pass at a time: the view is compared with the served one outside the lock (thousands of
    /// leases, every pass), so the node's requests do not wait for the comparison.
    /// - Parameters:
    ///   - touched: the keys of every lease row read since the previous call (`nil`: unknown, as after a full
    ///     read): only those can differ from the last view, so only those are compared, here and in the replica.
    ///   - deadAfter: the heartbeat age after which a node of `cluster` is dead.
    public func updateLeases(
        _ leases: [StreamKey: Lease], touched: Set<StreamKey>? = nil, cluster: [NodeStatus], deadAfter: Double = 2
    ) async {
        let (served, delivered) = state.withLock { ($0.leases, $0.leasesDelivered) }
        let me = identity.hostname
        let differs: Bool
        // Whether this node's own stream list may change: only through a lease it holds or receives, before or after.
        var concernsMe = true
        if let touched, delivered, let served {
            differs = touched.contains { served[$0] != leases[$0] }
            let involvesMe = { (lease: Lease?) in lease?.node == me || lease?.nextNode == me }
            concernsMe = touched.contains { involvesMe(served[$0]) || involvesMe(leases[$0]) }
        } else {
            differs = served != leases
        }
        let clusterView = Dictionary(cluster.map { ($0.node.name, $0) }, uniquingKeysWith: { first, _ in first })
        let changed = state.withLock { state -> Bool in
            let changed = differs || state.provisional != nil
            state.provisional = nil
            if changed {
                let before = state.viewVersion
                state.leases = leases
                // Leases changed among other nodes only (a claim wave: 49 of 50 sidecars at every claim): this
                // node's list, chosen from the served view, still holds for the new one.
                if !concernsMe, state.selections[me]?.version == before {
                    state.selections[me]?.version = state.viewVersion
                }
            }
            state.leasesDelivered = true
            if let touched, state.unstoredLeaseKeys != nil {
                state.unstoredLeaseKeys?.formUnion(touched)
            } else {
                state.unstoredLeaseKeys = nil
            }
            state.cluster = clusterView
            state.deadAfter = deadAfter
            state.centreReachable = true
            return changed
        }
        guard changed else { return }
        prepareOwnAnswer()
        guard let replica else { return }
        let (stored, unstored) = state.withLock { ($0.storedLeases, $0.unstoredLeaseKeys) }
        do {
            try await replica.storeLeases(leases, previous: stored, changed: unstored)
            state.withLock { state in
                state.storedLeases = leases
                state.unstoredLeaseKeys = []
            }
        } catch {
            // Rolled back: the file keeps the old view, which the next write (a whole one) replaces.
            state.withLock { state in
                state.storedLeases = nil
                state.unstoredLeaseKeys = nil
            }
            logger.error("replica lease write failed", metadata: ["error": "\(error)"])
        }
    }

    /// Records that PostgreSQL did not answer: dynamic names are answered to the node that asks until it does.
    public func centreUnreachable() {
        state.withLock { $0.centreReachable = false }
    }

    /// Takes the cluster's placed dynamic names (capture-once mode); the planner's streams include them.
    public func updateDynamic(_ placements: [StreamKey: DynamicPlacement]) {
        state.withLock { state in
            let before = state.dynamic.mapValues(\.node)
            state.dynamic = placements
            guard before != placements.mapValues(\.node), let config = state.config else { return }
            state.planned = Self.planned(config, ordered: state.ordered, dynamic: placements)
        }
    }

    /// The dynamic names to write to PostgreSQL now, with the node each goes to: those asked for (a client's
    /// request, or the placed ones this node's clients watch) for the first time, or again since they were last
    /// written, at least a third of a ``DynamicPlacement/lifetime`` ago. On the node capturing a name, the other nodes relaying it (those reporting it alive) are not
    /// clients that keep it: they keep it only while their own clients do. Names not asked for during a lifetime
    /// are forgotten.
    /// - Returns: each name, its node, and the seconds it stays placed: a ``DynamicPlacement/lifetime`` from
    ///   its last ask.
    public func dynamicNamesToWrite() -> [(key: StreamKey, node: String, expiresIn: Double)] {
        let now = ContinuousClock.now
        let me = identity.hostname
        return state.withLock { state in
            for (key, placement) in state.dynamic where key.role == identity.role {
                var clients = state.nodeReport.clients[key.name] ?? 0
                if state.leases?[key]?.node == me {
                    clients -= state.cluster.values.count { $0.node.name != me && $0.node.role == key.role && $0.alive.contains(key.name) }
                }
                guard clients > 0 else { continue }
                state.wanted[key, default: WantedName(node: placement.node, askedAt: now)].askedAt = now
            }
            var due: [(key: StreamKey, node: String, expiresIn: Double)] = []
            for (key, wanted) in state.wanted where key.role == identity.role {
                let left = DynamicPlacement.lifetime - (now - wanted.askedAt)
                if left <= .zero {
                    state.wanted[key] = nil
                } else if wanted.writtenAt.map({ wanted.askedAt > $0 && now - $0 >= DynamicPlacement.lifetime / 3 }) ?? true {
                    due.append((key, wanted.node, Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18))
                    state.wanted[key]?.writtenAt = now
                }
            }
            return due.sorted { $0.key < $1.key }
        }
    }

    /// Capture-once start: the replica's lease view is held back (nothing is served) until the first lease pass
    /// either replaces it with PostgreSQL's, or fails and ``restoreProvisionalLeases()`` serves it. A sidecar
    /// restarted with the centre up thus never serves assignments that moved while it was away.
    public func holdLeasesUntilConfirmed() {
        state.withLock { state in
            state.provisional = state.leases ?? [:]
            state.leases = [:]
            state.leasesDelivered = false
        }
    }

    /// The centre is unreachable at start: serve the replica's lease view (assignments frozen).
    public func restoreProvisionalLeases() {
        let restored = state.withLock { state -> Int? in
            guard let provisional = state.provisional else { return nil }
            state.provisional = nil
            state.leases = provisional
            state.leasesDelivered = false
            return provisional.count
        }
        if let restored {
            logger.warning("PostgreSQL unreachable at start: serving the replica's lease view", metadata: ["leases": "\(restored)"])
        }
    }

    /// Records what the node's API reported.
    public func updateNodeReport(_ report: NodeReport) {
        state.withLock { $0.nodeReport = report }
    }

    // MARK: - Reads

    /// The configuration served now, if any.
    public var config: CentralConfig? { state.withLock { $0.config } }
    /// Counts the configurations delivered, so a caller can tell that nothing changed without comparing them.
    public var generation: Int { state.withLock { $0.generation } }

    /// One role's streams sorted by name (kept per configuration, not sorted per call).
    public func streams(role: String) -> [CentralStream] {
        state.withLock { $0.ordered[role] ?? [] }
    }

    /// One role's streams sorted by name with the placed dynamic names: what its lease planner places.
    public func plannedStreams(role: String) -> [CentralStream] {
        state.withLock { $0.planned[role] ?? $0.ordered[role] ?? [] }
    }

    /// The lease view (capture-once mode), if any.
    public var leases: [StreamKey: Lease]? { state.withLock { $0.leases } }
    /// The cluster's nodes as last read from PostgreSQL.
    public var cluster: [NodeStatus] { state.withLock { Array($0.cluster.values) } }
    /// What the node reported last.
    public var nodeReport: NodeReport { state.withLock { $0.nodeReport } }

    /// The upstream's health.
    public var health: Health {
        state.withLock { state in
            let kind = state.config == nil ? "no_configuration" : state.errorState ?? "ok"
            return Health(state: kind, error: state.error, errorSince: state.errorSince, syncedAt: state.syncedAt)
        }
    }

    /// The streams `host` should run, as wire JSON objects sorted by name; `nil` before any configuration.
    /// - Parameter names: only these names (the by-name questions of DESIGN §3 step 2).
    public func streams(for host: String, names: Set<String>? = nil) -> [Data]? {
        var rejected: [CentralConfigError] = []
        let answer = state.withLock { state -> [Data]? in
            guard let config = state.config else { return nil }
            let role = config.nodes[host]?.role ?? state.cluster[host]?.node.role ?? identity.role
            let node = config.nodes[host] ?? state.cluster[host]?.node ?? CentralNode(name: host, role: role, labels: identity.labels)
            let selected: [CentralStream]
            if let names {
                selected = names.sorted().compactMap { config.streams[StreamKey(role: role, name: $0)] }
                    .filter { Self.runs($0, on: node, leases: state.leases) }
            } else if let cached = state.selections[host], cached.version == state.viewVersion, cached.node == node {
                selected = cached.streams
            } else {
                selected = (state.planned[role] ?? state.ordered[role] ?? []).filter { Self.runs($0, on: node, leases: state.leases) }
                // Bounded: hosts are whatever clients name.
                if state.selections.count >= 64 { state.selections.removeAll() }
                state.selections[host] = Selection(version: state.viewVersion, node: node, streams: selected)
            }
            var result: [Data] = []
            result.reserveCapacity(selected.count)
            for stream in selected {
                if let wire = Self.served(stream, state: &state, rejected: &rejected) { result.append(wire) }
            }
            return result
        }
        for error in rejected {
            logger.error("central stream rejected: not served (its last good version is, if it had one)", metadata: ["error": "\(error)"])
        }
        return answer
    }

    /// The configuration of a dynamic name for `host` (a template match), if the name is not configured.
    ///
    /// In static mode, for a published template, and while PostgreSQL does not answer, the asking node runs it.
    /// In capture-once mode a pulled dynamic name is captured by one node: the one holding its lease, else the one
    /// it was placed on, else the least-loaded live node of its role, chosen now. That node gets the template's
    /// configuration; any other gets the stream relayed from it (`m4f://HOLDER/NAME`).
    /// - Parameter asked: a client asked for the name just now (`/dynamic_streams_list`), which keeps it placed;
    ///   `false` for the node re-checking a name it runs, which gets nothing once the name is no longer placed
    ///   (no client asked for it during a ``DynamicPlacement/lifetime``).
    public func dynamicStream(_ name: String, for host: String, asked: Bool = true) -> Data? {
        state.withLock { state -> Data? in
            guard let config = state.config else { return nil }
            let role = config.nodes[host]?.role ?? state.cluster[host]?.node.role ?? identity.role
            let key = StreamKey(role: role, name: name)
            guard config.streams[key] == nil, let template = config.template(for: name, role: role) else { return nil }
            let instance = template.instantiate(name: name)
            guard let leases = state.leases, state.centreReachable, !template.isPublished, instance.dvr?.replicate != true else {
                return CentralDocument.wireJSON(instance)
            }
            // The capturing node gets what its list will carry once it holds the lease (the same configuration, so
            // the node does not restart the stream when it moves from the dynamic answer to the list).
            let captured = { (node: String) in CentralDocument.wireJSON(template.placedStream(name: name, at: node).config) }
            let lease = leases[key]
            if let lease, lease.node == host || lease.nextNode == host {
                if asked { Self.want(key, at: host, state: &state) }
                return captured(state.dynamic[key]?.node ?? host)
            }
            // Ended (past its lifetime; the holder keeps it a little longer, see DynamicPlacement.holderGrace) and not
            // asked for here: a relaying node's re-check gets nothing, and it stops before the holder does.
            let placed = state.dynamic[key].flatMap { $0.expires > ContinuousClock.now ? $0 : nil }
            guard asked || placed != nil || state.wanted[key] != nil else { return nil }
            var holder = lease?.node ?? placed?.node ?? state.wanted[key]?.node
            if holder == nil {
                holder = Self.leastLoaded(role: role, state: state) ?? host
            }
            guard let holder else { return nil }
            if asked { Self.want(key, at: holder, state: &state) }
            guard holder != host,
                let address = state.cluster[holder]?.node.advertise.nonEmpty ?? config.nodes[holder]?.advertise.nonEmpty
            else { return captured(placed?.node ?? holder) }
            var relay = instance
            relay.inputs = [InputConfig(url: "m4f://\(address)/\(name)")]
            relay.clusterIngest = nil
            return CentralDocument.wireJSON(relay)
        }
    }

    private static func want(_ key: StreamKey, at node: String, state: inout State) {
        let now = ContinuousClock.now
        state.wanted[key, default: WantedName(node: node, askedAt: now)].askedAt = now
    }

    /// The live node of `role` with the least load: its leases' costs, plus 1 per dynamic name placed on it
    /// that has no lease yet (so a burst of new names spreads).
    private static func leastLoaded(role: String, state: State) -> String? {
        let live = state.cluster.values.filter { $0.node.role == role && $0.isLive(deadAfter: state.deadAfter) }
        var load = LeasePlanner.loads(role: role, leases: state.leases ?? [:], live: live)
        for (key, wanted) in state.wanted where key.role == role && state.leases?[key] == nil && state.dynamic[key] == nil {
            load[wanted.node]? += 1
        }
        for (key, placement) in state.dynamic where key.role == role && state.leases?[key] == nil {
            load[placement.node]? += 1
        }
        return LeasePlanner.leastLoaded(live, load: load)?.node.name
    }

    /// Counts one answered request (for `/status`).
    func countRequest() {
        state.withLock { $0.requests += 1 }
    }

    /// Requests answered so far.
    public var requestsServed: Int { state.withLock { $0.requests } }

    // MARK: - Rules

    /// Whether `stream` runs on `node`: by lease in capture-once mode, by `capture_at` in static mode.
    /// A stream that runs on every node of its role (``CentralStream/runsOnEveryNode``) follows the static rule in
    /// both modes.
    static func runs(_ stream: CentralStream, on node: CentralNode, leases: [StreamKey: Lease]?) -> Bool {
        if let leases, !stream.runsOnEveryNode {
            guard let lease = leases[stream.key] else { return false }
            return lease.node == node.name || lease.nextNode == node.name
        }
        guard let selector = stream.captureAt else { return true }
        return node.matches(selector: selector)
    }

    /// The wire JSON of a stream, with `m4f://@ROLE/NAME` inputs pointed at the node that captures NAME now;
    /// `nil` for a stream whose stored text fails its check and that this node never served (one it served keeps
    /// the version it served). Each failing text is added to `rejected` once.
    private static func served(_ stream: CentralStream, state: inout State, rejected: inout [CentralConfigError]) -> Data? {
        let encoded: Encoded
        if let known = state.wire[stream.key], known.stream == stream {
            encoded = known
        } else {
            do throws(CentralConfigError) {
                let config = try stream.decodedConfig()
                encoded = Encoded(stream: stream, config: config, wire: CentralDocument.wireJSON(config))
                if state.config?.streams[stream.key] == stream { state.wire[stream.key] = encoded }
                state.rejected[stream.key] = nil
            } catch {
                if state.rejected[stream.key] != stream {
                    state.rejected[stream.key] = stream
                    rejected.append(error)
                }
                guard let known = state.wire[stream.key] else { return nil }
                encoded = known
            }
        }
        guard encoded.config.inputs.contains(where: { $0.url.hasPrefix("m4f://@") }) else { return encoded.wire }
        var config = encoded.config
        for index in config.inputs.indices {
            let url = config.inputs[index].url
            guard url.hasPrefix("m4f://@") else { continue }
            if let address = holderAddress(of: url, state: state) {
                state.resolved[url] = address
            }
            if let address = state.resolved[url] {
                config.inputs[index].url = address
            }
        }
        return CentralDocument.wireJSON(config)
    }

    /// `m4f://@ingest/cam1` → `m4f://ADDRESS/cam1` of the node capturing `ingest/cam1`, when known.
    static func holderAddress(of url: String, state: State) -> String? {
        let rest = url.dropFirst("m4f://@".count)
        guard let slash = rest.firstIndex(of: "/"), let config = state.config else { return nil }
        let role = String(rest[..<slash])
        var name = String(rest[rest.index(after: slash)...])
        var query = ""
        if let mark = name.firstIndex(of: "?") {
            query = String(name[mark...])
            name = String(name[..<mark])
        }
        let key = StreamKey(role: role, name: name)
        var holder: String?
        if let leases = state.leases {
            holder = leases[key]?.node
        } else {
            let candidates = config.nodes.values.filter { $0.role == role }.sorted { $0.name < $1.name }
            if let selector = config.streams[key]?.captureAt {
                holder = candidates.first { $0.matches(selector: selector) }?.name
            } else {
                holder = candidates.first?.name
            }
        }
        guard let holder else { return nil }
        let advertise = state.cluster[holder]?.node.advertise.nonEmpty ?? config.nodes[holder]?.advertise.nonEmpty
        guard let advertise else { return nil }
        return "m4f://\(advertise)/\(name)\(query)"
    }

    /// `ordered` with each placed dynamic name that is not configured and that a template still covers.
    private static func planned(
        _ config: CentralConfig, ordered: [String: [CentralStream]], dynamic: [StreamKey: DynamicPlacement]
    ) -> [String: [CentralStream]] {
        guard !dynamic.isEmpty else { return ordered }
        var planned = ordered
        let placed = dynamic.values.compactMap { placement -> CentralStream? in
            let key = placement.key
            guard config.streams[key] == nil, let template = config.template(for: key.name, role: key.role), !template.isPublished
            else { return nil }
            return template.placedStream(name: key.name, at: placement.node)
        }
        for (role, streams) in Dictionary(grouping: placed, by: \.role) {
            planned[role] = ((planned[role] ?? []) + streams).sorted { $0.name < $1.name }
        }
        return planned
    }

    private static func ordered(_ config: CentralConfig) -> [String: [CentralStream]] {
        Dictionary(grouping: config.streams.values, by: \.role).mapValues { $0.sorted { $0.name < $1.name } }
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
