import EstuaryConfig
import Foundation
import Testing

@Suite struct StreamListDecoderTests {
    @Test func oneInvalidStreamDoesNotBlockTheOthers() throws {
        let json = """
            {"streams": [
              {"name": "a", "inputs": [{"url": "fake://a"}]},
              {"name": "b", "inputs": [{"url": "ftp://h/b"}]},
              {"name": "c", "inputs": [{"url": "m4f://ingest-0:8080/c"}], "dvr": {"root": "/storage", "expiration": "1d"}}
            ], "next": null}
            """
        let list = try StreamListDecoder().decode(json: Data(json.utf8))
        #expect(list.streams.map(\.name) == ["a", "c"])
        #expect(list.errors == [.invalidField(stream: "b", field: "inputs[0].url", reason: "unsupported scheme 'ftp'")])
        #expect(list.next == nil)
        #expect(list.unknownFields == [])
        #expect(list.streams[1].dvr?.expiration == 86_400)
    }

    @Test func everyKindOfBadEntryBecomesOneError() throws {
        let json = #"""
            {"streams": [42, {"inputs": [{"url": "fake://x"}]}, {"name": "ok", "inputs": ["fake://ok"]},
                         {"name": "bad name", "inputs": ["fake://x"]}, {"name": "ok", "inputs": ["fake://again"]}]}
            """#
        let list = try StreamConfig.decodeList(json: Data(json.utf8))
        #expect(list.streams.map(\.name) == ["ok"])
        #expect(list.streams[0].inputs[0].url == "fake://ok")
        #expect(list.errors.count == 4)
        #expect(list.errors[0] == .notAnObject(stream: "streams[0]"))
        #expect(list.errors[1] == .missingField(stream: "streams[1]", field: "name"))
        #expect(list.errors[2].stream == "bad name")
        #expect(list.errors[2].field == "name")
        #expect(list.errors[3] == .duplicateName(stream: "ok"))
    }

    @Test func unknownFieldsAreReportedOncePerName() throws {
        let json = """
            {"streams": [
              {"name": "a", "title": "A", "inputs": [{"url": "fake://a", "via": 1}, {"url": "fake://b", "via": 2}]},
              {"name": "b", "title": "B", "inputs": [{"url": "fake://b"}], "dvr": {"root": "/s", "dvr_offline": true}},
              {"name": "c", "inputs": [{"url": "ftp://c"}], "comment": "invalid streams report too"}
            ], "next": null, "estimated_count": 3}
            """
        let list = try StreamListDecoder().decode(json: Data(json.utf8))
        #expect(list.streams.count == 2)
        #expect(list.unknownFields == ["comment", "dvr.dvr_offline", "inputs.via", "title"])
    }

    @Test func nextCursorIsReturned() throws {
        let page = try StreamListDecoder().decode(json: Data(#"{"streams": [], "next": "abc=="}"#.utf8))
        #expect(page.next == "abc==")
        #expect(page.streams.isEmpty)
        #expect(try StreamListDecoder().decode(json: Data(#"{"streams": [], "next": 17}"#.utf8)).next == "17")
        #expect(try StreamListDecoder().decode(json: Data(#"{"streams": [], "next": ""}"#.utf8)).next == nil)
        #expect(try StreamListDecoder().decode(json: Data(#"{"next": null}"#.utf8)).streams.isEmpty)
    }

    @Test func bareListIsAccepted() throws {
        let list = try StreamListDecoder().decode(json: Data(#"[{"name": "a", "inputs": ["fake://a"]}]"#.utf8))
        #expect(list.streams.map(\.name) == ["a"])
    }

    @Test func jsonKeepsItsTypesThroughTheReaders() throws {
        // Booleans, integers, integral and fractional doubles, null: each read as the field expects it.
        let json = """
            {"streams": [{"name": "a", "static": true, "inputs": [{"url": "fake://a", "priority": 2, "source_timeout": 5.0}],
              "dvr": {"root": "/storage", "expiration": 86400, "disk_limit": null}},
             {"name": "b", "static": false, "inputs": [{"url": "fake://b", "priority": 1.5}]},
             {"name": "c", "static": 1, "inputs": [{"url": "fake://c"}]}], "next": null}
            """
        let list = try StreamListDecoder().decode(json: Data(json.utf8))
        #expect(list.streams.map(\.name) == ["a", "c"])
        #expect(list.streams.map(\.isStatic) == [true, true])
        let a = try #require(list.streams.first)
        #expect(a.inputs.first?.priority == 2 && a.inputs.first?.sourceTimeout == 5)
        #expect(a.dvr?.root == "/storage")
        // 1.5 is not a whole number: the stream is refused, naming the field.
        #expect(list.errors.map(\.stream) == ["b"])
        #expect(list.errors.first.map { "\($0)" }?.contains("priority") == true)
    }

    @Test func malformedBodies() {
        let malformed = #expect(throws: StreamListError.self) { try StreamListDecoder().decode(json: Data("<html>".utf8)) }
        #expect(malformed?.reasonCode == "malformed_json")
        for body in [#"{"streams": {}}"#, #""streams""#, #"{"streams": [], "next": {}}"#] {
            let error = #expect(throws: StreamListError.self) { try StreamListDecoder().decode(json: Data(body.utf8)) }
            #expect(error?.reasonCode == "validation_error")
        }
    }

    @Test func yamlListsDecodeWithUnitsAndReplicate() throws {
        let yaml = """
            streams:
              - name: a
                inputs: [{url: "m4f://streamer:8081/a", source_timeout: 5}]
                dvr: {root: /storage, expiration: 12h, storage_limit: 10M, replicate: yes, replication_speed: 100M}
              - name: b
                inputs: [{url: fake://b}]
                dvr: {root: /storage, disk_usage_limit: 150}
            """
        let list = try StreamConfig.decodeList(yaml: yaml)
        #expect(list.streams.map(\.name) == ["a"])
        let dvr = try #require(list.streams.first?.dvr)
        #expect(
            dvr == DVRConfig(root: "/storage", expiration: 43_200, storageLimit: 10_485_760, replicate: true, replicationSpeed: 100_000_000)
        )
        #expect(list.streams[0].inputs[0].sourceTimeout == 5)
        #expect(list.errors.map(\.field) == ["dvr.disk_usage_limit"])
        #expect(try StreamListDecoder().decode(yaml: "").streams.isEmpty)
        #expect(try StreamListDecoder().decode(yaml: "- {name: x, inputs: [fake://x]}").streams.count == 1)
    }

    @Test func yamlSyntaxErrorsCarryThePosition() {
        let error = #expect(throws: StreamListError.self) {
            try StreamListDecoder().decode(yaml: "streams:\n  - name: a\n    inputs: [fake://a\n")
        }
        guard case .malformedYAML(_, let line, _) = error else {
            Issue.record("expected malformedYAML, got \(String(describing: error))")
            return
        }
        #expect(line != nil)
    }
}
