import EstuaryConfig
import Foundation
import Logging
import Testing

@testable import EstuarySidecar

@Suite struct SidecarStateTests {
    let config = try! CentralDocument.parse(
        yaml: """
            nodes:
              - {name: ingest-0, advertise: "10.0.0.1:8080", labels: {region: eu}}
              - {name: ingest-1, advertise: "10.0.0.2:8080", labels: {region: us}}
              - {name: dvr-0, role: dvr}
            streams:
              - {name: eu1, inputs: [{url: "fake://eu1"}], cluster_ingest: {capture_at: "region=eu"}}
              - {name: any, inputs: [{url: "fake://any"}]}
              - {name: us1, inputs: [{url: "fake://us1"}], cluster_ingest: {capture_at: ingest-1}}
              - {name: rec, role: dvr, inputs: [{url: "m4f://@ingest/us1"}]}
            """)

    func names(_ list: [Data]?) -> [String] {
        (list ?? []).compactMap { (try? JSONSerialization.jsonObject(with: $0) as? [String: Any])?["name"] as? String }
    }

    @Test func nothingIsServedBeforeAConfigurationArrives() {
        let state = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: Logger(label: "t"))
        #expect(state.streams(for: "ingest-0") == nil)
        #expect(state.health.state == "no_configuration")
    }

    @Test func staticModeServesByCaptureAtAndRole() async {
        let state = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: Logger(label: "t"))
        await state.deliver(config)
        #expect(names(state.streams(for: "ingest-0")) == ["any", "eu1"])
        #expect(names(state.streams(for: "ingest-1")) == ["any", "us1"])
        #expect(names(state.streams(for: "ingest-0", names: ["us1", "any"])) == ["any"])
        #expect(names(state.streams(for: "dvr-0")) == ["rec"])
    }

    @Test func followInputsPointAtTheCurrentHolder() async throws {
        let state = SidecarState(identity: SidecarIdentity(hostname: "dvr-0", role: "dvr"), replica: nil, logger: Logger(label: "t"))
        await state.deliver(config)
        let served = try #require(state.streams(for: "dvr-0")?.first)
        #expect(String(decoding: served, as: UTF8.self).contains("m4f://10.0.0.2:8080/us1"))
        // Capture-once: the lease moves, the address follows.
        let node0 = NodeStatus(node: CentralNode(name: "ingest-0", advertise: "10.0.0.1:8080"), ready: true)
        let dvr = NodeStatus(node: CentralNode(name: "dvr-0", role: "dvr"), ready: true)
        await state.updateLeases(
            [
                StreamKey(role: "ingest", name: "us1"): Lease(node: "ingest-0", epoch: 2),
                StreamKey(role: "dvr", name: "rec"): Lease(node: "dvr-0", epoch: 1),
            ],
            cluster: [node0, dvr])
        let moved = try #require(state.streams(for: "dvr-0")?.first)
        #expect(String(decoding: moved, as: UTF8.self).contains("m4f://10.0.0.1:8080/us1"))
    }

    /// Leases that change among other nodes leave this node's list as it was (it is not chosen again); one it
    /// holds or receives, before or after, changes it.
    @Test func theOwnListFollowsOnlyLeasesThatConcernThisNode() async {
        let state = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: Logger(label: "t"))
        await state.deliver(config)
        func key(_ name: String) -> StreamKey { StreamKey(role: "ingest", name: name) }
        var view = [key("any"): Lease(node: "ingest-1", epoch: 1), key("eu1"): Lease(node: "ingest-0", epoch: 1)]
        await state.updateLeases(view, touched: nil, cluster: [])
        #expect(names(state.streams(for: "ingest-0")) == ["eu1"])
        view[key("us1")] = Lease(node: "ingest-1", epoch: 1)
        await state.updateLeases(view, touched: [key("us1")], cluster: [])
        #expect(names(state.streams(for: "ingest-0")) == ["eu1"])
        #expect(names(state.streams(for: "ingest-1")) == ["any", "us1"])
        view[key("any")] = Lease(node: "ingest-0", epoch: 2)
        await state.updateLeases(view, touched: [key("any")], cluster: [])
        #expect(names(state.streams(for: "ingest-0")) == ["any", "eu1"], "taken from another node")
        view[key("eu1")] = Lease(node: "ingest-1", nextNode: "ingest-0", epoch: 2)
        view[key("us1")] = Lease(node: "ingest-1", epoch: 2)
        await state.updateLeases(view, touched: [key("eu1"), key("us1")], cluster: [])
        #expect(names(state.streams(for: "ingest-0")) == ["any", "eu1"], "a handover to this node")
        view[key("eu1")] = Lease(node: "ingest-1", epoch: 3)
        await state.updateLeases(view, touched: [key("eu1")], cluster: [])
        #expect(names(state.streams(for: "ingest-0")) == ["any"], "handed over to another node")
        #expect(names(state.streams(for: "ingest-1")) == ["eu1", "us1"])
    }

    @Test func captureOnceServesHolderAndHandoverTarget() async {
        let state = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: Logger(label: "t"))
        await state.deliver(config)
        await state.updateLeases(
            [
                StreamKey(role: "ingest", name: "eu1"): Lease(node: "ingest-1", nextNode: "ingest-0", epoch: 3),
                StreamKey(role: "ingest", name: "any"): Lease(node: "ingest-1", epoch: 1),
            ], cluster: [])
        #expect(names(state.streams(for: "ingest-0")) == ["eu1"])
        #expect(names(state.streams(for: "ingest-1")) == ["any", "eu1"])
        #expect(names(state.streams(for: "ingest-1", names: ["us1"])).isEmpty, "a stream without a lease runs nowhere")
    }

    // MARK: - Dynamic names in capture-once mode

    let dynamicConfig = try! CentralDocument.parse(
        yaml: """
            nodes:
              - {name: ingest-0, advertise: "10.0.0.1:8080"}
              - {name: ingest-1, advertise: "10.0.0.2:8080"}
            streams:
              - {name: a, inputs: [{url: "fake://a"}]}
              - {name: b, inputs: [{url: "fake://b"}]}
              - {name: c, inputs: [{url: "fake://c"}]}
            templates:
              - {prefix: "cam/", inputs: [{url: "rtsp://cams.example/{name}"}]}
              - {prefix: "live/", inputs: [{url: "publish://"}]}
            """)

    func inputURLs(_ data: Data?) -> [String] {
        guard let data, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let inputs = object["inputs"] as? [[String: Any]]
        else { return [] }
        return inputs.compactMap { $0["url"] as? String }
    }

    /// ingest-0 holds a and b, ingest-1 holds c; both live.
    func captureOnceState() async -> SidecarState {
        let state = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: Logger(label: "t"))
        await state.deliver(dynamicConfig)
        let cluster = ["ingest-0", "ingest-1"].map { name in
            NodeStatus(node: CentralNode(name: name, advertise: name == "ingest-0" ? "10.0.0.1:8080" : "10.0.0.2:8080"), ready: true)
        }
        await state.updateLeases(
            [
                StreamKey(role: "ingest", name: "a"): Lease(node: "ingest-0", epoch: 1),
                StreamKey(role: "ingest", name: "b"): Lease(node: "ingest-0", epoch: 1),
                StreamKey(role: "ingest", name: "c"): Lease(node: "ingest-1", epoch: 1),
            ], cluster: cluster)
        return state
    }

    @Test func aDynamicNameGoesToTheLeastLoadedNodeAndIsRelayedFromItElsewhere() async {
        let state = await captureOnceState()
        // ingest-1 holds one stream, ingest-0 two: cam/1 goes to ingest-1, and ingest-0 relays it.
        #expect(inputURLs(state.dynamicStream("cam/1", for: "ingest-0")) == ["m4f://10.0.0.2:8080/cam/1"])
        #expect(state.dynamicNamesToWrite().map { "\($0.key)@\($0.node)" } == ["ingest/cam/1@ingest-1"])
        #expect(state.dynamicNamesToWrite().isEmpty, "written once, not again within a third of its lifetime")
        // ingest-1 itself gets the template's source.
        #expect(inputURLs(state.dynamicStream("cam/1", for: "ingest-1")) == ["rtsp://cams.example/cam/1"])
        // cam/1 counts on ingest-1 before it has a lease: the loads are even (2 and 2), so cam/2 goes to ingest-0.
        #expect(inputURLs(state.dynamicStream("cam/2", for: "ingest-0")) == ["rtsp://cams.example/cam/2"])
        // A re-check by the node keeps the answer but does not count as a client's ask.
        #expect(inputURLs(state.dynamicStream("cam/1", for: "ingest-0", asked: false)) == ["m4f://10.0.0.2:8080/cam/1"])
        // A name nobody asked for and nobody placed has ended: the node's re-check gets nothing.
        #expect(state.dynamicStream("cam/9", for: "ingest-0", asked: false) == nil)
    }

    @Test func aPlacedDynamicNameIsPlannedAndServedToItsHolder() async {
        let state = await captureOnceState()
        let key = StreamKey(role: "ingest", name: "cam/1")
        state.updateDynamic([key: DynamicPlacement(key: key, node: "ingest-1", expires: .now + .seconds(30))])
        let planned = state.plannedStreams(role: "ingest")
        #expect(planned.map(\.name) == ["a", "b", "c", "cam/1"])
        #expect(planned.last?.captureAt == "ingest-1")
        #expect(planned.last?.failback == .stay)
        // No lease yet: it runs nowhere. With its lease, on the holder, with the template's source.
        #expect(!names(state.streams(for: "ingest-1")).contains("cam/1"))
        var leases = state.leases ?? [:]
        leases[key] = Lease(node: "ingest-1", epoch: 1)
        await state.updateLeases(leases, cluster: state.cluster)
        let served = state.streams(for: "ingest-1") ?? []
        #expect(names(served) == ["c", "cam/1"])
        #expect(inputURLs(served.last) == ["rtsp://cams.example/cam/1"])
        // The lease moved (its node died): the relay follows the lease, not the first placement.
        leases[key] = Lease(node: "ingest-0", epoch: 2)
        await state.updateLeases(leases, cluster: state.cluster)
        #expect(inputURLs(state.dynamicStream("cam/1", for: "ingest-1", asked: false)) == ["m4f://10.0.0.1:8080/cam/1"])
        // Once the placement ends, the planner's streams are the configured ones again.
        state.updateDynamic([:])
        #expect(state.plannedStreams(role: "ingest").map(\.name) == ["a", "b", "c"])
    }

    @Test func publishedNamesStaticModeAndAnUnreachableCentreRunWhereAsked() async {
        let state = await captureOnceState()
        // A published name runs where its publisher connected.
        #expect(inputURLs(state.dynamicStream("live/x", for: "ingest-0")) == ["publish://"])
        #expect(state.dynamicNamesToWrite().isEmpty)
        // PostgreSQL unreachable: nothing can be placed; the asking node runs it.
        state.centreUnreachable()
        #expect(inputURLs(state.dynamicStream("cam/5", for: "ingest-0")) == ["rtsp://cams.example/cam/5"])
        // Static mode (no leases at all): as before capture once, the asking node runs it.
        let plain = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: Logger(label: "t"))
        await plain.deliver(dynamicConfig)
        #expect(inputURLs(plain.dynamicStream("cam/5", for: "ingest-0", asked: false)) == ["rtsp://cams.example/cam/5"])
    }

    @Test func aPlacedNameIsKeptByItsClientsButNotByTheNodesRelayingIt() async {
        // This sidecar's node (ingest-0) holds cam/1; ingest-1 relays it (alive there).
        let state = await captureOnceState()
        let key = StreamKey(role: "ingest", name: "cam/1")
        state.updateDynamic([key: DynamicPlacement(key: key, node: "ingest-0", expires: .now + .seconds(30))])
        var leases = state.leases ?? [:]
        leases[key] = Lease(node: "ingest-0", epoch: 1)
        let cluster = state.cluster.map { status in
            var status = status
            if status.node.name == "ingest-1" { status.alive = ["cam/1"] }
            return status
        }
        await state.updateLeases(leases, cluster: cluster)
        // Its one client is ingest-1's relay: nothing keeps it.
        state.updateNodeReport(NodeReport(ready: true, clients: ["cam/1": 1]))
        #expect(state.dynamicNamesToWrite().isEmpty)
        // A viewer of its own besides: kept.
        state.updateNodeReport(NodeReport(ready: true, clients: ["cam/1": 2]))
        #expect(state.dynamicNamesToWrite().map { "\($0.key)@\($0.node)" } == ["ingest/cam/1@ingest-0"])
    }

    @Test func anEndedPlacementStopsTheRelaysBeforeItsHolder() async {
        let state = await captureOnceState()
        let key = StreamKey(role: "ingest", name: "cam/1")
        // Past its lifetime, within the holder's grace: still planned, its lease still held by ingest-1.
        state.updateDynamic([key: DynamicPlacement(key: key, node: "ingest-1", expires: .now - .seconds(1))])
        var leases = state.leases ?? [:]
        leases[key] = Lease(node: "ingest-1", epoch: 1)
        await state.updateLeases(leases, cluster: state.cluster)
        #expect(state.plannedStreams(role: "ingest").map(\.name).contains("cam/1"))
        // The relay's re-check gets nothing; the holder keeps it; a new client's ask revives it.
        #expect(state.dynamicStream("cam/1", for: "ingest-0", asked: false) == nil)
        #expect(inputURLs(state.dynamicStream("cam/1", for: "ingest-1", asked: false)) == ["rtsp://cams.example/cam/1"])
        #expect(inputURLs(state.dynamicStream("cam/1", for: "ingest-0")) == ["m4f://10.0.0.2:8080/cam/1"])
        #expect(state.dynamicNamesToWrite().map { "\($0.key)@\($0.node)" } == ["ingest/cam/1@ingest-1"])
    }

    /// Streams read from stored text (PostgreSQL rows, the replica) are placed from two fields and decoded when first
    /// served: one whose text fails its check is not served while the others are, and a served stream whose new
    /// text fails keeps its last good version until a good one arrives.
    @Test func aStoredStreamIsCheckedWhenServedAndABadEditKeepsTheLastGoodVersion() async throws {
        func stored(_ name: String, _ json: String) throws -> CentralStream {
            CentralStream(
                role: "ingest", name: name, failback: nil, storedJSON: json, placement: try StreamPlacement(streamJSON: Data(json.utf8)))
        }
        let state = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: Logger(label: "t"))
        func inputs(_ host: String) -> [String] {
            (state.streams(for: host) ?? []).flatMap { inputURLs($0) }
        }
        let bad = try stored("b", #"{"inputs": [{"url": "ftp://nowhere"}]}"#)
        let placed = try stored("c", #"{"inputs": [{"url": "fake://c"}], "cluster_ingest": {"capture_at": "ingest-1"}}"#)
        await state.deliver(CentralConfig(streams: [try stored("a", #"{"inputs": [{"url": "fake://a"}]}"#), bad, placed]))
        #expect(inputs("ingest-0") == ["fake://a"])
        #expect(inputs("ingest-1") == ["fake://a", "fake://c"])
        #expect(performing: { try bad.decodedConfig() }, throws: { ($0 as? CentralConfigError)?.field == "inputs[0].url" })
        // A bad edit of a served stream: the node keeps running the last good version.
        await state.deliver(CentralConfig(streams: [try stored("a", #"{"inputs": [{"url": "ftp://elsewhere"}]}"#), bad, placed]))
        #expect(inputs("ingest-0") == ["fake://a"])
        await state.deliver(CentralConfig(streams: [try stored("a", #"{"inputs": [{"url": "fake://a2"}]}"#), bad, placed]))
        #expect(inputs("ingest-0") == ["fake://a2"])
        // Fixed, the rejected stream is served.
        await state.deliver(CentralConfig(streams: [try stored("b", #"{"inputs": [{"url": "fake://b"}]}"#), placed]))
        #expect(inputs("ingest-0") == ["fake://b"])
    }
}
