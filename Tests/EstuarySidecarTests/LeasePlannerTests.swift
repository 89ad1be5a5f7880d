import EstuaryConfig
import Foundation
import Testing

@testable import EstuarySidecar

@Suite struct LeasePlannerTests {
    func config(_ count: Int, captureAt: (Int) -> String? = { _ in nil }, failback: FailbackPolicy = .stay) -> CentralConfig {
        CentralConfig(
            streams: (0..<count).map { index in
                var stream = StreamConfig(name: "s\(index)", inputs: [InputConfig(url: "fake://s\(index)")])
                if let node = captureAt(index) { stream.clusterIngest = ClusterIngestConfig(captureAt: node) }
                return CentralStream(config: stream)
            }, failback: failback)
    }

    func nodes(
        _ names: [String], alive: [String: Set<String>] = [:], age: [String: Double] = [:], ready: Set<String>? = nil
    ) -> [NodeStatus] {
        names.map { name in
            NodeStatus(
                node: CentralNode(name: name), ready: ready?.contains(name) ?? true, alive: alive[name] ?? [],
                heartbeatAge: age[name] ?? 0.1)
        }
    }

    /// Runs every node's plan against one shared table until nothing changes, as the sidecars would.
    func settle(
        _ config: CentralConfig, _ cluster: [NodeStatus], leases start: [StreamKey: Lease] = [:], mayTakeOver: Bool = true
    )
        -> [StreamKey: Lease]
    {
        var leases = start
        for _ in 0..<20 {
            var changed = false
            for node in cluster where node.ready && node.heartbeatAge < 2 {
                let actions = LeasePlanner(me: node.node.name, role: "ingest", rebalance: false)
                    .plan(config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: mayTakeOver)
                for action in actions {
                    changed = true
                    switch action {
                    case .claim(let names):
                        for name in names where leases[StreamKey(role: "ingest", name: name)] == nil {
                            leases[StreamKey(role: "ingest", name: name)] = Lease(node: node.node.name, epoch: 1)
                        }
                    case .takeOver(let from, let names):
                        for name in names {
                            let key = StreamKey(role: "ingest", name: name)
                            if let lease = leases[key], lease.node == from {
                                leases[key] = Lease(node: node.node.name, epoch: lease.epoch + 1)
                            }
                        }
                    default: break
                    }
                }
            }
            if !changed { break }
        }
        return leases
    }

    @Test func everyStreamGetsExactlyOneNodeAndTheLoadIsEven() {
        let cluster = nodes(["a", "b", "c"])
        let leases = settle(config(30), cluster)
        #expect(leases.count == 30)
        let counts = Dictionary(grouping: leases.values, by: \.node).mapValues(\.count)
        #expect(counts == ["a": 10, "b": 10, "c": 10])
    }

    /// A stream kept as stored text whose configuration fails its check is not claimed, by the node it is planned
    /// for or any other; the valid ones are.
    @Test func aStoredStreamThatFailsItsCheckIsNotClaimed() throws {
        func stored(_ name: String, _ url: String) throws -> CentralStream {
            let json = #"{"inputs": [{"url": "\#(url)"}]}"#
            return CentralStream(
                role: "ingest", name: name, failback: nil, storedJSON: json, placement: try StreamPlacement(streamJSON: Data(json.utf8)))
        }
        let config = CentralConfig(streams: [try stored("s0", "fake://s0"), try stored("s1", "ftp://s1"), try stored("s2", "fake://s2")])
        let leases = settle(config, nodes(["a"]))
        #expect(leases.keys.map(\.name).sorted() == ["s0", "s2"])
    }

    @Test func captureAtIsASoftPreference() {
        let cluster = nodes(["a", "b"])
        let leases = settle(config(4, captureAt: { $0 < 2 ? "b" : "nowhere" }), cluster)
        #expect(leases[StreamKey(role: "ingest", name: "s0")]?.node == "b")
        #expect(leases[StreamKey(role: "ingest", name: "s1")]?.node == "b")
        // No live node matches "nowhere": any node of the role takes them.
        #expect(leases.count == 4)
    }

    @Test func aStreamWaitsForItsPreferredNodeWhileThatNodeIsStarting() {
        let config = config(2, captureAt: { _ in "b" })
        var cluster = nodes(["a", "b"], ready: ["a"])
        cluster[1].starting = true
        #expect(
            LeasePlanner(me: "a", role: "ingest").plan(config: config, nodes: cluster, leases: [:], ready: true, mayTakeOver: true).isEmpty)
        // A preferred node that failed (it was ready once) is not waited for.
        cluster[1].starting = false
        #expect(
            LeasePlanner(me: "a", role: "ingest").plan(config: config, nodes: cluster, leases: [:], ready: true, mayTakeOver: true)
                == [.claim(names: ["s0", "s1"])])
    }

    @Test func aDeadHoldersStreamsMoveOnlyAfterTheGrace() {
        let config = config(6)
        let before = settle(config, nodes(["a", "b", "c"]))
        let afterDeath = nodes(["a", "b", "c"], age: ["c": 3])
        let frozen = settle(config, afterDeath, leases: before, mayTakeOver: false)
        #expect(frozen == before, "nothing is taken over during the grace after a reconnect")
        let moved = settle(config, afterDeath, leases: before, mayTakeOver: true)
        #expect(moved.count == 6)
        #expect(!moved.values.contains { $0.node == "c" })
        #expect(moved.values.allSatisfy { $0.epoch >= 1 })
    }

    @Test func aStreamLeftOnADeadNodeIsTakenByAnyLiveNodeOnceOrphaned() {
        let config = config(1)
        let leases = [StreamKey(role: "ingest", name: "s0"): Lease(node: "c", epoch: 4)]
        let cluster = nodes(["a", "b", "c"], age: ["c": 30])
        let plan = { (me: String, orphaned: Set<String>) in
            LeasePlanner(me: me, role: "ingest").plan(
                config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true, orphaned: orphaned)
        }
        // However long c has been silent, only the plan's target (a, the first of two empty nodes) takes it...
        #expect(plan("a", []) == [.takeOver(from: "c", names: ["s0"])])
        #expect(plan("b", []).isEmpty)
        // ...until b has seen c dead for the orphan grace (b may see a as the target while a sees b): b takes it too.
        #expect(plan("b", ["c"]) == [.takeOver(from: "c", names: ["s0"])])
    }

    @Test func aStreamOnANodeThatStillAcceptsConnectionsStaysThere() {
        let config = config(2)
        let leases = [
            StreamKey(role: "ingest", name: "s0"): Lease(node: "c", epoch: 4),
            StreamKey(role: "ingest", name: "s1"): Lease(node: "b", epoch: 2),
        ]
        // c's sidecar is 3 s late; b's node is not ready (its sidecar says so): only c counts as merely unresponsive.
        let cluster = nodes(["a", "b", "c"], age: ["c": 3], ready: ["a", "c"])
        let plan = { (orphaned: Set<String>, unresponsive: Set<String>) in
            LeasePlanner(me: "a", role: "ingest").plan(
                config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true, orphaned: orphaned,
                unresponsive: unresponsive)
        }
        #expect(plan([], []) == [.takeOver(from: "b", names: ["s1"]), .takeOver(from: "c", names: ["s0"])])
        #expect(plan([], ["c"]) == [.takeOver(from: "b", names: ["s1"])])
        #expect(plan(["c"], ["c"]) == [.takeOver(from: "b", names: ["s1"])], "an orphan still accepting connections stays too")
    }

    @Test func rebalancingCountsInStreamsWhateverTheCapacities() {
        // Capacity 100 each, every stream on a: per unit of capacity the gap is 0.5, in streams it is 50.
        let config = config(100)
        var leases: [StreamKey: Lease] = [:]
        for index in 0..<100 { leases[StreamKey(role: "ingest", name: "s\(index)")] = Lease(node: "a", epoch: 1) }
        let cluster = ["a", "b"].map { NodeStatus(node: CentralNode(name: $0, capacity: 100), ready: true, heartbeatAge: 0.1) }
        let asked = requestedHandovers(
            LeasePlanner(me: "b", role: "ingest").plan(config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true))
        #expect(asked.count == 50)
    }

    @Test func aReplicatedDVRStreamTakesNoLeaseAndRunsOnEveryNodeOfItsRole() {
        var recorded = StreamConfig(name: "cam", inputs: [InputConfig(url: "m4f://@ingest/cam")], dvr: DVRConfig(root: "/storage"))
        let single = CentralStream(role: "dvr", config: recorded)
        recorded.dvr?.replicate = true
        let replicated = CentralStream(role: "dvr", config: recorded)
        let config = CentralConfig(streams: [replicated])
        let cluster = nodes(["a", "b"]).map { status -> NodeStatus in
            var status = status
            status.node.role = "dvr"
            return status
        }
        // No claim for it; a lease held from before it was replicated is released.
        let held = [StreamKey(role: "dvr", name: "cam"): Lease(node: "a", epoch: 3)]
        #expect(
            LeasePlanner(me: "b", role: "dvr").plan(config: config, nodes: cluster, leases: [:], ready: true, mayTakeOver: true).isEmpty)
        #expect(
            LeasePlanner(me: "a", role: "dvr").plan(config: config, nodes: cluster, leases: held, ready: true, mayTakeOver: true)
                == [.release(names: ["cam"])])
        // Served to every dvr node, with or without a lease view; the unreplicated stream only to its holder.
        for node in cluster.map(\.node) {
            #expect(SidecarState.runs(replicated, on: node, leases: [:]))
            #expect(SidecarState.runs(replicated, on: node, leases: nil))
        }
        #expect(SidecarState.runs(single, on: cluster[0].node, leases: held))
        #expect(!SidecarState.runs(single, on: cluster[1].node, leases: held))
    }

    @Test func aNodeThatIsNotReadyReleasesEverything() {
        let config = config(4)
        let leases = settle(config, nodes(["a", "b"]))
        let actions = LeasePlanner(me: "a", role: "ingest").plan(
            config: config, nodes: nodes(["a", "b"]), leases: leases, ready: false, mayTakeOver: true)
        let mine = leases.filter { $0.value.node == "a" }.map(\.key.name).sorted()
        #expect(actions == [.release(names: mine)])
    }

    @Test func returnIsMakeBeforeBreakAndStayStays() {
        let key = StreamKey(role: "ingest", name: "s0")
        let returning = config(1, captureAt: { _ in "a" }, failback: .return)
        let held = [key: Lease(node: "b", epoch: 4)]
        let back = nodes(["a", "b"], alive: ["b": ["s0"]])
        // The preferred node asks; the holder does nothing yet.
        #expect(
            LeasePlanner(me: "a", role: "ingest").plan(config: returning, nodes: back, leases: held, ready: true, mayTakeOver: true)
                == [.requestHandover(name: "s0", epoch: 4)])
        #expect(
            LeasePlanner(me: "b", role: "ingest").plan(config: returning, nodes: back, leases: held, ready: true, mayTakeOver: true).isEmpty
        )
        // During the handover the holder waits until the stream is alive on the preferred node.
        let handing = [key: Lease(node: "b", nextNode: "a", epoch: 5)]
        #expect(
            LeasePlanner(me: "b", role: "ingest").plan(config: returning, nodes: back, leases: handing, ready: true, mayTakeOver: true)
                .isEmpty)
        let bothAlive = nodes(["a", "b"], alive: ["a": ["s0"], "b": ["s0"]])
        #expect(
            LeasePlanner(me: "b", role: "ingest").plan(config: returning, nodes: bothAlive, leases: handing, ready: true, mayTakeOver: true)
                == [.completeHandover(name: "s0", to: "a", epoch: 5)])
        // stay: nobody asks.
        let staying = config(1, captureAt: { _ in "a" }, failback: .stay)
        #expect(
            LeasePlanner(me: "a", role: "ingest").plan(config: staying, nodes: back, leases: held, ready: true, mayTakeOver: true).isEmpty)
    }

    @Test func rebalancingAsksForHandoversFromTheBusiestNode() {
        let config = config(30)
        var leases: [StreamKey: Lease] = [:]
        for index in 0..<30 { leases[StreamKey(role: "ingest", name: "s\(index)")] = Lease(node: index < 20 ? "a" : "b", epoch: 1) }
        let cluster = nodes(["a", "b", "c"])
        let actions = LeasePlanner(me: "c", role: "ingest", rebalanceStep: 50).plan(
            config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true)
        let asked = requestedHandovers(actions)
        #expect(asked.count == 10)
        #expect(asked.allSatisfy { leases[StreamKey(role: "ingest", name: $0)]?.node == "a" })
    }

    @Test func nodesBelowTheAverageAskingAtOnceAskForDifferentStreams() {
        let config = config(40)
        var leases: [StreamKey: Lease] = [:]
        for index in 0..<40 { leases[StreamKey(role: "ingest", name: "s\(index)")] = Lease(node: "a", epoch: 1) }
        let cluster = nodes(["a", "b", "c", "d"])
        let asked = ["b", "c", "d"].map { me in
            requestedHandovers(
                LeasePlanner(me: me, role: "ingest").plan(config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true))
        }
        #expect(asked.map(\.count) == [10, 10, 10])
        #expect(Set(asked.joined()).count == 30, "two nodes asked for the same stream: \(asked)")
        let donor = LeasePlanner(me: "a", role: "ingest").plan(
            config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true)
        #expect(requestedHandovers(donor).isEmpty)
    }

    @Test func aHandoverAlreadyAskedForCountsAtItsDestination() {
        // a holds 20 (5 of them already on their way to c), b 10, c none: c is 5 short, not 10.
        let config = config(30)
        var leases: [StreamKey: Lease] = [:]
        for index in 0..<30 {
            leases[StreamKey(role: "ingest", name: "s\(index)")] = Lease(
                node: index < 20 ? "a" : "b", nextNode: index < 5 ? "c" : nil, epoch: 1)
        }
        let asked = requestedHandovers(
            LeasePlanner(me: "c", role: "ingest").plan(
                config: config, nodes: nodes(["a", "b", "c"]), leases: leases, ready: true, mayTakeOver: true))
        #expect(asked.count == 5)
        #expect(asked.allSatisfy { name in Int(name.dropFirst()).map { $0 >= 5 && $0 < 20 } ?? false })
    }

    @Test func oneNodeHoldingEverythingIsEvenedOutInTwoRounds() {
        // Every node plans on the shared table in turn; a request is granted when the lease is still as it saw it,
        // and the holder (whose node reports nothing alive) completes it on its next pass.
        let config = config(100)
        var leases: [StreamKey: Lease] = [:]
        for index in 0..<100 { leases[StreamKey(role: "ingest", name: "s\(index)")] = Lease(node: "a", epoch: 1) }
        let cluster = nodes(["a", "b", "c", "d", "e"])
        var rounds = 0
        var counts: [String: Int] = [:]
        repeat {
            rounds += 1
            for node in cluster.map(\.node.name) {
                let actions = LeasePlanner(me: node, role: "ingest").plan(
                    config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true)
                for action in actions {
                    switch action {
                    case .requestHandover(let name, let epoch):
                        let key = StreamKey(role: "ingest", name: name)
                        if let lease = leases[key], lease.epoch == epoch, lease.nextNode == nil {
                            leases[key] = Lease(node: lease.node, nextNode: node, epoch: epoch + 1)
                        }
                    case .completeHandover(let name, let to, let epoch):
                        let key = StreamKey(role: "ingest", name: name)
                        if let lease = leases[key], lease.epoch == epoch, lease.node == node {
                            leases[key] = Lease(node: to, epoch: epoch + 1)
                        }
                    default: break
                    }
                }
            }
            counts = Dictionary(leases.values.map { ($0.node, 1) }, uniquingKeysWith: +)
        } while rounds < 5 && counts.values.contains(where: { $0 != 20 })
        #expect(counts == ["a": 20, "b": 20, "c": 20, "d": 20, "e": 20])
        #expect(rounds <= 2, "took \(rounds) rounds: \(counts)")
    }

    /// Nodes reporting every stream they hold as alive at the given bitrate (bits/s).
    func reporting(_ holders: [String: [(String, Int64)]]) -> [NodeStatus] {
        holders.keys.sorted().map { name in
            let streams = holders[name] ?? []
            return NodeStatus(
                node: CentralNode(name: name), ready: true, alive: Set(streams.map(\.0)),
                streamBitrates: Dictionary(uniqueKeysWithValues: streams), heartbeatAge: 0.1)
        }
    }

    /// Streams s0… held by a (the first `a`) and b (the next `b`), each alive on its holder at the given bitrate.
    func split(a: Int, at aBitrate: Int64, b: Int, at bBitrate: Int64) -> ([StreamKey: Lease], [NodeStatus]) {
        var leases: [StreamKey: Lease] = [:]
        var held: [String: [(String, Int64)]] = ["a": [], "b": []]
        for index in 0..<(a + b) {
            let node = index < a ? "a" : "b"
            leases[StreamKey(role: "ingest", name: "s\(index)")] = Lease(node: node, epoch: 1)
            held[node, default: []].append(("s\(index)", index < a ? aBitrate : bBitrate))
        }
        return (leases, reporting(held))
    }

    /// The streams a plan asks handovers of.
    func requestedHandovers(_ actions: [LeaseAction]) -> [String] {
        actions.compactMap { action -> String? in
            if case .requestHandover(let name, _) = action { return name }
            return nil
        }
    }

    @Test func streamCostsWeighBitrateAgainstTheMeanInQuarterSteps() {
        let costs = StreamCosts(reports: reporting(["a": [("heavy", 8_000_000), ("light", 1_000_000)], "b": [("mid", 3_000_000)]]))
        // mean 4 Mbit/s: 0.5 + 0.5 × 8/4 = 1.5; 0.5 + 0.5 × 1/4 = 0.625 → 0.75 (rounded to a quarter); 0.5 + 0.5 × 3/4 = 0.875 → 1.
        #expect(costs["heavy"] == 1.5)
        #expect(costs["light"] == 0.75)
        #expect(costs["mid"] == 1)
        #expect(costs["unreported"] == 1)
        // Equal bitrates cost exactly 1 each, and a few percent of drift changes nothing.
        let even = StreamCosts(reports: reporting(["a": [("x", 2_000_000), ("y", 2_060_000)], "b": [("z", 1_950_000)]]))
        #expect(["x", "y", "z"].map { even[$0] } == [1, 1, 1])
    }

    @Test func aNewStreamGoesToTheNodeWithLessBitrateEvenWithMoreStreams() {
        // a holds 3 streams of 9 Mbit/s, b holds 4 of 1 Mbit/s: by count a is lighter, by load b is.
        let (leases, cluster) = split(a: 3, at: 9_000_000, b: 4, at: 1_000_000)
        let config = config(8)
        let byB = LeasePlanner(me: "b", role: "ingest", rebalance: false).plan(
            config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true)
        let byA = LeasePlanner(me: "a", role: "ingest", rebalance: false).plan(
            config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true)
        #expect(byB == [.claim(names: ["s7"])])
        #expect(byA.isEmpty)
        // Without bitrates (nothing alive yet) the same leases count streams: a, with fewer, takes it.
        let unreported = nodes(["a", "b"])
        #expect(
            LeasePlanner(me: "a", role: "ingest", rebalance: false).plan(
                config: config, nodes: unreported, leases: leases, ready: true, mayTakeOver: true) == [.claim(names: ["s7"])])
    }

    @Test func rebalancingMovesHeavyStreamsOnlyWhileTheyFitTheDeficit() {
        // a and b hold 10 streams each, of 7 and 1 Mbit/s (mean 4): costs 1.5 and 0.75, loads 15 and 7.5.
        let (leases, cluster) = split(a: 10, at: 7_000_000, b: 10, at: 1_000_000)
        let actions = LeasePlanner(me: "b", role: "ingest", rebalanceStep: 50).plan(
            config: config(20), nodes: cluster, leases: leases, ready: true, mayTakeOver: true)
        let asked = requestedHandovers(actions)
        // Average 11.25, deficit 3.75 (with a quarter of slack, 4): two heavy streams (3); a third would overshoot.
        #expect(asked == ["s0", "s1"])
        // By count the two are even, and a asks for nothing.
        #expect(
            LeasePlanner(me: "a", role: "ingest", rebalanceStep: 50).plan(
                config: config(20), nodes: cluster, leases: leases, ready: true, mayTakeOver: true
            ).isEmpty)
    }

    @Test func whileNodesJoinNothingIsClaimedButDeadNodesStreamsMoveOn() {
        // s0 is held by a dead node, s1 by nobody; b is the only live node.
        let config = config(2)
        let cluster = nodes(["b", "dead"], age: ["dead": 9])
        let leases = [StreamKey(role: "ingest", name: "s0"): Lease(node: "dead", epoch: 3)]
        let joining = LeasePlanner(me: "b", role: "ingest", rebalance: false).plan(
            config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true, mayClaim: false)
        #expect(joining == [.takeOver(from: "dead", names: ["s0"])])
        let settled = LeasePlanner(me: "b", role: "ingest", rebalance: false).plan(
            config: config, nodes: cluster, leases: leases, ready: true, mayTakeOver: true)
        #expect(settled == [.claim(names: ["s1"]), .takeOver(from: "dead", names: ["s0"])])
    }

    /// The positional choice: the least load per unit of capacity among the given positions (all when `nil`), the
    /// first of equals; nothing from an empty pool.
    @Test func theLeastLoadedPositionWeighsCapacityAndKeepsTheFirstOfEquals() {
        #expect(LeasePlanner.leastLoaded(nil, loads: [2, 1, 1], weights: [1, 1, 1]) == 1)
        #expect(LeasePlanner.leastLoaded(nil, loads: [2, 1, 1], weights: [4, 1, 1]) == 0)
        #expect(LeasePlanner.leastLoaded([0, 2], loads: [2, 0, 1], weights: [1, 1, 1]) == 2)
        #expect(LeasePlanner.leastLoaded([], loads: [0], weights: [1]) == nil)
        #expect(LeasePlanner.leastLoaded(nil, loads: [], weights: []) == nil)
    }
}
