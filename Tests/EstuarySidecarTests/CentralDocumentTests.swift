import EstuaryConfig
import Foundation
import Testing

@testable import EstuarySidecar

@Suite struct CentralDocumentTests {
    let yaml = """
        failback: return
        nodes:
          - {name: ingest-0, role: ingest, advertise: "10.0.0.1:8080", labels: {region: eu}}
        streams:
          - {name: cam1, inputs: [{url: "fake://cam1"}], cluster_ingest: {capture_at: ingest-0, failback: stay}}
          - {name: cam1, role: dvr, inputs: [{url: "m4f://@ingest/cam1"}], dvr: {root: /storage, expiration: 7d}}
        templates:
          - {prefix: "live/", inputs: [{url: "publish://"}]}
        episodes:
          - {id: e1, stream: cam1, opened_at: 1700000000000, closed_at: null}
        """

    @Test func readsStreamsByRoleWithCentralOnlyFieldsStripped() throws {
        let config = try CentralDocument.parse(yaml: yaml)
        #expect(config.streams.count == 2)
        let ingest = try #require(config.streams[StreamKey(role: "ingest", name: "cam1")])
        #expect(ingest.failback == .stay)
        #expect(ingest.captureAt == "ingest-0")
        let dvr = try #require(config.streams[StreamKey(role: "dvr", name: "cam1")])
        #expect(dvr.failback == nil)
        #expect(config.failback(of: dvr) == .return)
        #expect(dvr.config.dvr?.expiration == 7 * 86_400)
        // What the node receives has no central-only keys.
        let wire = String(decoding: CentralDocument.wireJSON(ingest.config), as: UTF8.self)
        #expect(!wire.contains("failback") && !wire.contains("role"))
        #expect(config.nodes["ingest-0"]?.labels == ["region": "eu"])
        #expect(config.template(for: "live/abc", role: "ingest")?.instantiate(name: "live/abc").name == "live/abc")
        #expect(config.template(for: "other", role: "ingest") == nil)
        #expect(config.episodes["e1"]?.closedAt == nil)
    }

    @Test func aBadEntryRejectsTheDocumentNamingStreamAndField() {
        let bad = """
            streams:
              - {name: good, inputs: [{url: "fake://a"}]}
              - {name: cam2, inputs: [{url: "ftp://x"}]}
              - {name: cam3, inputs: [{url: "fake://b"}], cluster_ingest: {failback: sideways}}
            """
        #expect {
            _ = try CentralDocument.parse(yaml: bad)
        } throws: { error in
            guard let errors = error as? CentralConfigErrors else { return false }
            let text = errors.description
            return errors.errors.count == 2 && text.contains("cam2") && text.contains("inputs[0].url") && text.contains("cam3")
                && errors.errors.last?.field == "cluster_ingest.failback"
        }
    }

    @Test func syntaxErrorsAndWrongShapesAreMalformed() {
        #expect(throws: CentralConfigErrors.self) { try CentralDocument.parse(yaml: "streams: [ {name: ") }
        #expect(throws: CentralConfigErrors.self) { try CentralDocument.parse(yaml: "streams: 3") }
        #expect(throws: CentralConfigErrors.self) { try CentralDocument.parse(yaml: "- a\n- b") }
        #expect((try? CentralDocument.parse(yaml: ""))?.streams.isEmpty == true)
    }

    @Test func nodeSelectorsMatchNamesAndLabels() {
        let node = CentralNode(name: "ingest-2", labels: ["region": "eu", "rack": "3"])
        #expect(node.matches(selector: "ingest-2"))
        #expect(!node.matches(selector: "ingest-1"))
        #expect(node.matches(selector: "region=eu"))
        #expect(node.matches(selector: "region=eu,rack=3"))
        #expect(!node.matches(selector: "region=eu,rack=4"))
        #expect(!node.matches(selector: "region=us"))
    }

    @Test func episodesFilterLikeTheBackendContract() {
        let open = CentralEpisode(id: "a", stream: "s", openedAt: 10_000)
        let closed = CentralEpisode(id: "b", stream: "s", openedAt: 10_000, closedAt: 20_000)
        #expect(open.matches(openedBefore: 11, closedAfter: 100))
        #expect(!open.matches(openedBefore: 10, closedAfter: nil))
        #expect(closed.matches(openedBefore: 11, closedAfter: 19))
        #expect(!closed.matches(openedBefore: 11, closedAfter: 20))
    }
}
