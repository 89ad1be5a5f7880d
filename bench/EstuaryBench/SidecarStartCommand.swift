import ArgumentParser
import EstuaryConfig
import EstuarySidecar
import EstuaryTestSupport
import Foundation

/// `sidecar-start`: the parts of one sidecar's start-up on many streams, each timed in this process on one core:
/// decoding the streams' JSON (as a file upstream does; a PostgreSQL read keeps each stream's text and places it), writing them and the lease view to a replica file (whole, then as a claim wave of
/// diffs), reading the replica back, and planning. The `sidecar` benchmark runs fifty sidecars on this machine's
/// two cores, so its balance time is their start-up CPU added up; these figures say where that CPU goes, without
/// the noise of fifty processes.
struct SidecarStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar-start", abstract: "Where one sidecar's start-up CPU goes, part by part, on many streams.")

    @Option(help: "Streams.") var streams = 10_000
    @Option(help: "Nodes of the role (the claim wave has one diff per node).") var nodes = 50
    @Option(help: "Rounds of each part (the best round is reported).") var rounds = 3

    func run() async throws {
        let names = (1...streams).map { "b\($0)" }
        // As PostgreSQL prints the bench's rows (`config::text` of jsonb).
        let texts = names.map { #"{"name": "\#($0)", "inputs": [{"url": "fake://\#($0)"}]}"# }
        let nodeNames = (0..<nodes).map { "node-\($0)" }
        let scratch = try ScratchDirectory(prefix: "sidecar-start")
        defer { scratch.remove(keep: false) }

        var decoded: [CentralStream] = []
        try await best("decode_streams_ms") {
            decoded = try zip(names, texts).map { name, text in
                CentralStream(config: try StreamConfig.decode(json: Data(text.utf8), name: name).config)
            }
        }
        // What a PostgreSQL read does with each row now: the stream kept as its text, placed from the two objects
        // PostgreSQL extracts (none here), decoded only when served.
        var stored: [CentralStream] = []
        try await best("place_stored_streams_ms") {
            stored = zip(names, texts).map { name, text in
                CentralStream(
                    role: "ingest", name: name, failback: nil, storedJSON: text,
                    placement: StreamPlacement(clusterIngestJSON: nil, dvrJSON: nil))
            }
        }
        guard stored.count == decoded.count else { throw BenchError("placed \(stored.count) streams") }
        // A configuration whose streams carry their JSON text, as one read from PostgreSQL or a replica does.
        let seed = try ConfigReplica(path: scratch.url.appendingPathComponent("seed.sqlite").path)
        try await seed.store(CentralConfig(streams: decoded), previous: nil, syncedAt: Date())
        var loaded: CentralConfig?
        try await best("replica_load_ms") { loaded = try seed.load()?.config }
        guard let config = loaded, config.streams.count == streams else { throw BenchError("the seed replica did not load") }

        // The claim wave: node k claims every `nodes`-th stream, as the planner assigns a cluster's unheld streams.
        // Each step with the keys it changed, which the lease passes hand the replica write.
        var wave: [(view: [StreamKey: Lease], changed: Set<StreamKey>)] = []
        var leases: [StreamKey: Lease] = [:]
        for node in 0..<nodes {
            var changed = Set<StreamKey>()
            for index in stride(from: node, to: streams, by: nodes) {
                let key = StreamKey(role: "ingest", name: names[index])
                leases[key] = Lease(node: nodeNames[node], epoch: 1)
                changed.insert(key)
            }
            wave.append((leases, changed))
        }
        var round = 0
        try await best("replica_store_streams_ms") {
            round += 1
            let replica = try ConfigReplica(path: scratch.url.appendingPathComponent("store-\(round).sqlite").path)
            try await replica.store(config, previous: nil, syncedAt: Date())
        }
        try await best("replica_store_leases_whole_ms") {
            round += 1
            let replica = try ConfigReplica(path: scratch.url.appendingPathComponent("leases-\(round).sqlite").path)
            try await replica.storeLeases(leases, previous: nil)
        }
        for givesKeys in [false, true] {
            try await best("replica_store_leases_claim_wave_\(givesKeys ? "changed_keys" : "compared_whole")_ms") {
                round += 1
                let replica = try ConfigReplica(path: scratch.url.appendingPathComponent("wave-\(round).sqlite").path)
                var previous: [StreamKey: Lease] = [:]
                for step in wave {
                    try await replica.storeLeases(step.view, previous: previous, changed: givesKeys ? step.changed : nil)
                    previous = step.view
                }
            }
        }

        let live = nodeNames.map { NodeStatus(node: CentralNode(name: $0), ready: true) }
        let sorted = config.streams(role: "ingest")
        let planner = LeasePlanner(me: nodeNames[0], role: "ingest")
        var actions: [LeaseAction] = []
        try await best("plan_unheld_ms") {
            actions = planner.plan(config: config, streams: sorted, nodes: live, leases: [:], ready: true, mayTakeOver: true)
        }
        guard case .claim(let claimed) = actions.first, claimed.count == streams / nodes else {
            throw BenchError("the plan of unheld streams did not claim this node's share: \(actions.prefix(1))")
        }
        try await best("plan_balanced_ms") {
            actions = planner.plan(config: config, streams: sorted, nodes: live, leases: leases, ready: true, mayTakeOver: true)
        }
        guard actions.isEmpty else { throw BenchError("a balanced view planned \(actions.count) actions") }
    }

    private func best(_ label: String, _ body: () async throws -> Void) async throws {
        var times: [Double] = []
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            try await body()
            times.append(elapsedSeconds(ContinuousClock.now - start) * 1000)
        }
        report("sidecar_start \(label)=\(fixed(times.min() ?? 0, 1)) streams=\(streams)")
    }
}
