/// Decides, for one sidecar, what to change in the lease table of its role. A pure function of what the
/// sidecar read from PostgreSQL, so every sidecar reading the same rows plans the same assignment.
///
/// The rules:
/// - A node is live when it is ready and its heartbeat is younger than ``deadAfter``.
/// - A node's load is the sum of its streams' costs per unit of capacity. A stream costs 1 until a node reports
///   its input bitrate; then half of it is being a stream and half its bitrate against the mean of the reported
///   ones (``StreamCosts``), so a node of few heavy streams counts as loaded as one of many light ones.
/// - A stream nobody holds, or whose holder is not live, goes to the least-loaded live node (then by name), preferring the nodes its `capture_at` selects (a soft preference: when none of them
///   is live, any node of the role takes it, unless one of them is still starting: then the stream waits for
///   it, so a cluster starting up does not scatter streams away from their preferred nodes). Only the chosen
///   node writes the claim.
/// - A stream still on a node this sidecar has seen dead for ``orphanGrace`` while it could take over (the
///   caller's `orphaned`) is taken by any live node that sees it: sidecars whose views disagree may each see
///   another as its target. Counted from what this sidecar saw, not from the heartbeat's age, so after an outage
///   of PostgreSQL or at a cold start every target first gets its turn.
/// - A stream whose holder's heartbeat stopped, but whose node still accepts connections at its advertised
///   address (the caller's `unresponsive`: only its sidecar is late, starved or restarting), stays where it runs
///   for ``unresponsiveLimit`` after the last heartbeat: taking it over would run it twice.
/// - A node that is not ready releases everything and claims nothing.
/// - A stream whose configuration fails its check (stored text, checked when this node would take it) is not
///   claimed or taken over.
/// - Failback `return`: the preferred node, live again, asks for a handover; the holder completes it once the
///   stream is alive on the preferred node (or is not alive on the holder either). `stay` streams stay.
/// - Rebalancing (when enabled): nodes below the average load ask for handovers of streams without a
///   preference, make-before-break, through one match of receivers to donors that every node computes alike
///   from the same rows, so nodes asking at once ask for different streams. A node more than 5 % (at least 2
///   average streams) below takes from any node above the average; one only a little below, only from nodes
///   more than 5 % above. A stream costing more than the deficit left is not asked for, so a heavy stream does
///   not swing back and forth; handovers already asked for count as done.
/// - After this sidecar (re)connects to PostgreSQL it claims and takes over nothing for ``deadAfter``
///   (`mayTakeOver` is false): heartbeats stale from an outage of the database do not look like dead nodes,
///   and sidecars starting together all see each other before the first claims, so they split the streams
///   evenly at once.
public struct LeasePlanner: Sendable {
    /// This node's name.
    public var me: String
    /// The role whose streams are planned.
    public var role: String
    /// Heartbeat age after which a node is dead, seconds.
    public var deadAfter: Double
    /// Whether to move streams to even out load.
    public var rebalance: Bool
    /// How many handovers one pass may request for rebalancing.
    public var rebalanceStep: Int

    /// How long a sidecar that may take over waits, once it sees a node dead, before it takes that node's streams
    /// whatever their target: longer than the take-over grace after a (re)connection plus a pass, so a target
    /// that has just connected acts first.
    public static let orphanGrace: Duration = .seconds(4)

    /// Heartbeat age, seconds, up to which a node that still accepts connections keeps its streams: a sidecar
    /// late longer than that is taken as gone with its node (a hung node accepts connections too).
    public static let unresponsiveLimit: Double = 10

    /// Creates a planner.
    public init(me: String, role: String, deadAfter: Double = 2, rebalance: Bool = true, rebalanceStep: Int = 50) {
        self.me = me
        self.role = role
        self.deadAfter = deadAfter
        self.rebalance = rebalance
        self.rebalanceStep = rebalanceStep
    }

    /// Plans one pass.
    ///
    /// - Parameters:
    ///   - config: the central configuration.
    ///   - nodes: every registered node's status, this one included.
    ///   - leases: the lease rows of this role.
    ///   - ready: whether this sidecar's node is ready now.
    ///   - mayTakeOver: false during the grace period after (re)connecting to PostgreSQL.
    ///   - mayClaim: false while nodes of the role are still joining (the live set grew moments ago): streams
    ///     nobody holds wait, so that the first nodes up do not take far more than their share and hand it back
    ///     later. Take-overs from dead nodes do not wait.
    ///   - streams: this role's streams sorted by name, if the caller keeps them so (else taken from `config`).
    ///   - orphaned: dead nodes whose streams any live node may take now (seen dead for ``orphanGrace``).
    ///   - unresponsive: nodes without a recent heartbeat that still accept connections (for less than
    ///     ``unresponsiveLimit``): their streams stay with them.
    public func plan(
        config: CentralConfig, streams sorted: [CentralStream]? = nil, nodes: [NodeStatus], leases: [StreamKey: Lease], ready: Bool,
        mayTakeOver: Bool, mayClaim: Bool = true, orphaned: Set<String> = [], unresponsive: Set<String> = []
    ) -> [LeaseAction] {
        let mine = leases.filter { $0.key.role == role && $0.value.node == me }.map(\.key.name).sorted()
        guard ready else { return mine.isEmpty ? [] : [.release(names: mine)] }
        var actions: [LeaseAction] = []
        // Replicated DVR streams run on every node of the role and take no lease (a lease held from before is released).
        // The streams are used in place, by index, with each one's lease looked up once: a plan at 10,000 streams
        // copying each stream (dozens of references) and hashing its key four times took 20 ms.
        let all = sorted ?? config.streams(role: role)
        var leasable: [Leasable] = []
        leasable.reserveCapacity(all.count)
        var unconfigured = Set(mine)
        for index in all.indices where !all[index].runsOnEveryNode {
            let lease = leases[all[index].key]
            if let lease, lease.node == me { unconfigured.remove(all[index].name) }
            leasable.append(Leasable(index: index, lease: lease))
        }
        let removed = mine.filter { unconfigured.contains($0) }
        if !removed.isEmpty { actions.append(.release(names: removed)) }

        let live = nodes.filter { $0.node.role == role && $0.isLive(deadAfter: deadAfter) }
            .sorted { $0.node.name < $1.node.name }
        guard live.contains(where: { $0.node.name == me }) else { return actions }
        let status = Dictionary(live.map { ($0.node.name, $0) }, uniquingKeysWith: { first, _ in first })
        let costs = StreamCosts(reports: live)
        // Loads by position in `live` (sorted by name): choosing among fifty nodes for each of thousands of unheld
        // streams reads arrays, not a dictionary keyed by node name. Each lease's holder is found once.
        let position = Dictionary(live.enumerated().map { ($1.node.name, $0) }, uniquingKeysWith: { first, _ in first })
        let weights = live.map(Self.weight)
        var loads = [Double](repeating: 0, count: live.count)
        for slot in leasable.indices {
            guard let lease = leasable[slot].lease, let index = position[lease.node] else { continue }
            leasable[slot].holder = index
            loads[index] += costs[all[leasable[slot].index].name]
        }

        var claims: [String] = []
        var takeOvers: [String: [String]] = [:]
        for entry in leasable {
            let stream = all[entry.index]
            let lease = entry.lease
            if let lease, entry.holder != nil {
                actions += handover(stream, lease, config: config, live: live, status: status)
                continue
            }
            if let lease, unresponsive.contains(lease.node) { continue }
            if lease == nil, let selector = stream.captureAt, !live.contains(where: { $0.node.matches(selector: selector) }),
                nodes.contains(where: {
                    $0.node.role == role && $0.starting && $0.heartbeatAge < deadAfter && $0.node.matches(selector: selector)
                })
            {
                continue
            }
            guard let index = Self.leastLoaded(preferredPositions(stream, among: live), loads: loads, weights: weights) else { continue }
            let target = live[index]
            loads[index] += costs[stream.name]
            guard mayTakeOver else { continue }
            guard target.node.name == me else {
                // Its target should have taken it by now: views that disagree (or a target that may not take over)
                // must not leave it on a dead node, so any live node takes it; the first write wins.
                if let lease, orphaned.contains(lease.node), stream.isValid {
                    takeOvers[lease.node, default: []].append(stream.name)
                }
                continue
            }
            // A stream whose stored configuration fails its check is not taken: no node could run it (checked only
            // here, for the streams this node would take, so a sidecar decodes its own share alone).
            guard stream.isValid else { continue }
            if let lease {
                takeOvers[lease.node, default: []].append(stream.name)
            } else if mayClaim {
                claims.append(stream.name)
            }
        }
        if !claims.isEmpty { actions.append(.claim(names: claims)) }
        for (from, names) in takeOvers.sorted(by: { $0.key < $1.key }) {
            actions.append(.takeOver(from: from, names: names))
        }
        if rebalance && mayTakeOver {
            let load = Dictionary(zip(live.map(\.node.name), loads), uniquingKeysWith: { first, _ in first })
            actions += rebalanceRequests(all: all, leasable: leasable, live: live, load: load, costs: costs)
        }
        return actions
    }

    /// A stream that takes a lease, as the plan sees it: its index in the role's sorted streams, its lease, and the
    /// position in `live` of that lease's node (`nil`: no lease, or its node is not live).
    struct Leasable {
        var index: Int
        var lease: Lease?
        var holder: Int?
    }

    /// The positions in `live` of the nodes a stream prefers (`capture_at`); `nil` for all of them, when it
    /// prefers none or none of its preferred nodes is live.
    func preferredPositions(_ stream: CentralStream, among live: [NodeStatus]) -> [Int]? {
        guard let selector = stream.captureAt else { return nil }
        let matching = live.indices.filter { live[$0].node.matches(selector: selector) }
        return matching.isEmpty ? nil : matching
    }

    /// The position of the least-loaded node among `positions` (`nil`: every node) for their weights, the first
    /// (lowest name, as `live` is sorted) among equals: what ``leastLoaded(_:load:)`` picks, by position.
    static func leastLoaded(_ positions: [Int]?, loads: [Double], weights: [Double]) -> Int? {
        var best: Int?
        var bestLoad = Double.infinity
        func consider(_ index: Int) {
            let load = loads[index] / weights[index]
            if best == nil || load < bestLoad {
                best = index
                bestLoad = load
            }
        }
        if let positions {
            for index in positions { consider(index) }
        } else {
            for index in loads.indices { consider(index) }
        }
        return best
    }

    /// The node of `pool` with the least load per unit of capacity (then the first by name).
    static func leastLoaded(_ pool: [NodeStatus], load: [String: Double]) -> NodeStatus? {
        pool.min { lhs, rhs in
            let left = load[lhs.node.name, default: 0] / weight(lhs)
            let right = load[rhs.node.name, default: 0] / weight(rhs)
            return left != right ? left < right : lhs.node.name < rhs.node.name
        }
    }

    /// Each live node's load from a lease view: the costs of the streams of `role` it holds.
    static func loads(role: String, leases: [StreamKey: Lease], live: [NodeStatus]) -> [String: Double] {
        let costs = StreamCosts(reports: live)
        var load: [String: Double] = Dictionary(live.map { ($0.node.name, 0) }, uniquingKeysWith: { first, _ in first })
        for (key, lease) in leases where key.role == role && load[lease.node] != nil {
            load[lease.node, default: 0] += costs[key.name]
        }
        return load
    }

    private static func weight(_ node: NodeStatus) -> Double {
        node.node.capacity > 0 ? Double(node.node.capacity) : 1
    }

    private func weight(_ node: NodeStatus) -> Double { Self.weight(node) }

    private func handover(
        _ stream: CentralStream, _ lease: Lease, config: CentralConfig, live: [NodeStatus], status: [String: NodeStatus]
    ) -> [LeaseAction] {
        if let next = lease.nextNode {
            guard lease.node == me else { return [] }
            guard let target = status[next] else { return [.cancelHandover(name: stream.name, epoch: lease.epoch)] }
            let aliveThere = target.alive.contains(stream.name)
            let aliveHere = status[me]?.alive.contains(stream.name) ?? false
            return aliveThere || !aliveHere ? [.completeHandover(name: stream.name, to: next, epoch: lease.epoch)] : []
        }
        guard lease.node != me, config.failback(of: stream) == .return, let selector = stream.captureAt,
            let myStatus = status[me], myStatus.node.matches(selector: selector),
            let holder = status[lease.node], !holder.node.matches(selector: selector)
        else { return [] }
        return [.requestHandover(name: stream.name, epoch: lease.epoch)]
    }

    /// The handovers this node asks for to even out load. Every node below the average computes the same match
    /// from the same view, so the nodes asking at once ask for different streams and none of them waits for
    /// another's handovers to finish:
    /// - a handover already asked for counts at its destination, so it is neither asked again nor asked twice;
    /// - receivers, most underloaded first, take in turn from the donors, most loaded first, never more than a
    ///   receiver's deficit nor more than a donor's surplus (each with a quarter of slack, so a deficit of 1 takes
    ///   a stream of cost 1);
    /// - this node asks for what the match gives it, at most ``rebalanceStep`` streams a pass.
    ///
    /// `all` is the role's streams, `leasable` those of them that take a lease.
    private func rebalanceRequests(
        all: [CentralStream], leasable: [Leasable], live: [NodeStatus], load: [String: Double], costs: StreamCosts
    ) -> [LeaseAction] {
        guard live.count > 1, live.contains(where: { $0.node.name == me }) else { return [] }
        var effective = load
        for entry in leasable {
            guard entry.holder != nil, let lease = entry.lease, let next = lease.nextNode, effective[next] != nil else { continue }
            let cost = costs[all[entry.index].name]
            effective[lease.node, default: 0] -= cost
            effective[next, default: 0] += cost
        }
        let totalWeight = live.reduce(0) { $0 + weight($1) }
        let fair = effective.values.reduce(0, +) / totalWeight
        let relative = { (node: NodeStatus) in effective[node.node.name, default: 0] / weight(node) }
        // In stream costs, whatever the capacities: a node's distance from its fair share, and the slack allowed it.
        let excess = { (node: NodeStatus) in (relative(node) - fair) * weight(node) }
        let tolerance = { (node: NodeStatus) in max(2, fair * weight(node) * 0.05) }
        let anyOverloaded = live.contains { excess($0) > tolerance($0) }
        // Far below the average: take from anyone above it; only a little below: only from the overloaded.
        let receivers = live.filter { excess($0) < 0 && (-excess($0) > tolerance($0) || anyOverloaded) }
            .sorted { relative($0) != relative($1) ? relative($0) < relative($1) : $0.node.name < $1.node.name }
        guard receivers.contains(where: { $0.node.name == me }) else { return [] }
        let donors = live.filter { excess($0) > 0 }
            .sorted { relative($0) != relative($1) ? relative($0) > relative($1) : $0.node.name < $1.node.name }
        // Each node's streams that may move, with their leases.
        var movable: [String: [(stream: Int, lease: Lease)]] = [:]
        for entry in leasable {
            guard let lease = entry.lease, lease.nextNode == nil, all[entry.index].captureAt == nil else { continue }
            movable[lease.node, default: []].append((entry.index, lease))
        }
        var surplus = Dictionary(donors.map { ($0.node.name, excess($0) + 0.25) }, uniquingKeysWith: { a, _ in a })
        // The cheapest stream each donor can give: a donor whose cheapest does not fit is passed over without a scan.
        let cheapest = movable.mapValues { list in list.map { costs[all[$0.stream].name] }.min() ?? .infinity }
        for receiver in receivers {
            let farBelow = -excess(receiver) > tolerance(receiver)
            var wanted = max(1, -excess(receiver)) + 0.25
            var asked: [LeaseAction] = []
            for donor in donors where wanted >= 0.5 && (farBelow || excess(donor) > tolerance(donor)) {
                let name = donor.node.name
                guard var candidates = movable[name], let floor = cheapest[name] else { continue }
                var index = 0
                while index < candidates.count, wanted >= floor, surplus[name, default: 0] >= floor {
                    let (position, lease) = candidates[index]
                    let stream = all[position]
                    let cost = costs[stream.name]
                    guard cost <= wanted, cost <= surplus[name, default: 0] else {
                        index += 1
                        continue
                    }
                    asked.append(.requestHandover(name: stream.name, epoch: lease.epoch))
                    wanted -= cost
                    surplus[name, default: 0] -= cost
                    candidates.remove(at: index)
                }
                movable[name] = candidates
            }
            if receiver.node.name == me { return Array(asked.prefix(rebalanceStep)) }
        }
        return []
    }
}
