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

    @Test func staticModeServesByCaptureAtAndRole() {
        let state = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: Logger(label: "t"))
        state.deliver(config)
        #expect(names(state.streams(for: "ingest-0")) == ["any", "eu1"])
        #expect(names(state.streams(for: "ingest-1")) == ["any", "us1"])
        #expect(names(state.streams(for: "ingest-0", names: ["us1", "any"])) == ["any"])
        #expect(names(state.streams(for: "dvr-0")) == ["rec"])
    }

    @Test func followInputsPointAtTheCurrentHolder() throws {
        let state = SidecarState(identity: SidecarIdentity(hostname: "dvr-0", role: "dvr"), replica: nil, logger: Logger(label: "t"))
        state.deliver(config)
        let served = try #require(state.streams(for: "dvr-0")?.first)
        #expect(String(decoding: served, as: UTF8.self).contains("m4f://10.0.0.2:8080/us1"))
        // Capture-once: the lease moves, the address follows.
        let node0 = NodeStatus(node: CentralNode(name: "ingest-0", advertise: "10.0.0.1:8080"), ready: true)
        let dvr = NodeStatus(node: CentralNode(name: "dvr-0", role: "dvr"), ready: true)
        state.updateLeases(
            [
                StreamKey(role: "ingest", name: "us1"): Lease(node: "ingest-0", epoch: 2),
                StreamKey(role: "dvr", name: "rec"): Lease(node: "dvr-0", epoch: 1),
            ],
            cluster: [node0, dvr])
        let moved = try #require(state.streams(for: "dvr-0")?.first)
        #expect(String(decoding: moved, as: UTF8.self).contains("m4f://10.0.0.1:8080/us1"))
    }

    @Test func captureOnceServesHolderAndHandoverTarget() {
        let state = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: Logger(label: "t"))
        state.deliver(config)
        state.updateLeases(
            [
                StreamKey(role: "ingest", name: "eu1"): Lease(node: "ingest-1", nextNode: "ingest-0", epoch: 3),
                StreamKey(role: "ingest", name: "any"): Lease(node: "ingest-1", epoch: 1),
            ], cluster: [])
        #expect(names(state.streams(for: "ingest-0")) == ["eu1"])
        #expect(names(state.streams(for: "ingest-1")) == ["any", "eu1"])
        #expect(names(state.streams(for: "ingest-1", names: ["us1"])).isEmpty, "a stream without a lease runs nowhere")
    }
}
