import EstuaryConfig
import Foundation
import Testing

@Suite struct StreamConfigTests {
    @Test func designJSONExampleDecodes() throws {
        let json = strippingJSONComments(designJSONExample)
        let config = try JSONDecoder().decode(StreamConfig.self, from: Data(json.utf8))
        #expect(config.name == "cam1")
        #expect(config.isStatic)
        #expect(config.inputs == [InputConfig(url: "rtsp://10.0.0.5/s1", sourceTimeout: 10, priority: 0, clusterKey: "…")])
        let dvr = try #require(config.dvr)
        #expect(dvr.root == "/storage")
        #expect(dvr.expiration == 1_728_000)
        #expect(dvr.storageLimit == 0)
        #expect(dvr.diskUsageLimit == 95)
        #expect(dvr.episodesURL == nil)
        #expect(dvr.episodesExpiration == 0)
        #expect(dvr.replicate == false)
        #expect(dvr.replicationPort == 8002)
        #expect(dvr.replicationSpeed == 100_000_000)
        #expect(config.clusterIngest == ClusterIngestConfig(captureAt: "ingest-0"))
        #expect(config.pushes.isEmpty)
        #expect(config.password == nil)
    }

    @Test func designJSONExampleReencodesWithTheSameWireNames() throws {
        let original = Data(strippingJSONComments(designJSONExample).utf8)
        let config = try JSONDecoder().decode(StreamConfig.self, from: original)
        let encoded = try JSONEncoder().encode(config)
        // An empty episodes_url means "unset" and is left out; every other wire name comes back.
        #expect(try jsonKeyPaths(encoded) == jsonKeyPaths(original).filter { $0 != "dvr.episodes_url" })
        #expect(try JSONDecoder().decode(StreamConfig.self, from: encoded) == config)
        let object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        let dvr = try #require(object["dvr"] as? [String: Any])
        #expect(dvr["replication_speed"] as? Int == 100_000_000)
        #expect(dvr["dvr_replicate"] as? Bool == false)
        #expect(dvr["replicate"] == nil)
    }

    @Test func fullStreamRoundTrips() throws {
        let config = StreamConfig(
            name: "studio/main.hd",
            isStatic: false,
            inputs: [
                InputConfig(url: "publish://"),
                InputConfig(url: "m4f://ingest-0:8080/studio", sourceTimeout: 3, priority: 1, clusterKey: "k"),
            ],
            dvr: DVRConfig(
                root: "/storage", expiration: 86_400, storageLimit: 1 << 30, diskUsageLimit: 90,
                episodesURL: "http://127.0.0.1:8070/episodes", episodesExpiration: 3_600, replicate: true,
                replicationPort: 8002, replicationSpeed: 50_000_000
            ),
            clusterIngest: ClusterIngestConfig(captureAt: nil),
            pushes: [PushConfig(url: "rtmp://cdn.example/live/x")],
            password: "hunter2"
        )
        try config.validate()
        let encoded = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(StreamConfig.self, from: encoded) == config)
        let paths = try jsonKeyPaths(encoded)
        for path in [
            "static", "inputs[].source_timeout", "inputs[].cluster_key", "dvr.storage_limit", "dvr.episodes_url",
            "dvr.episodes_expiration", "dvr.dvr_replicate", "cluster_ingest", "pushes[].url", "password",
        ] {
            #expect(paths.contains(path), "missing \(path)")
        }
    }

    @Test func defaultsApply() throws {
        let config = try JSONDecoder().decode(StreamConfig.self, from: Data(streamJSON().utf8))
        #expect(config.isStatic)
        #expect(config.inputs[0].sourceTimeout == 10)
        #expect(config.inputs[0].priority == 0)
        #expect(config.inputs[0].clusterKey == nil)
        #expect(config.dvr == nil)
        #expect(config.clusterIngest == nil)
        #expect(config.pushes == [])
        #expect(config.password == nil)
    }

    @Test func unitsAndAliasesAreAcceptedInJSONToo() throws {
        let json = streamJSON(
            "cam1",
            #""dvr": {"root": "/s", "expiration": "20d", "storage_limit": "500G", "replicate": true, "replication_speed": 1000}"#
        )
        let config = try JSONDecoder().decode(StreamConfig.self, from: Data(json.utf8))
        #expect(config.dvr?.expiration == 1_728_000)
        #expect(config.dvr?.storageLimit == 536_870_912_000)
        #expect(config.dvr?.replicate == true)
        #expect(config.dvr?.replicationSpeed == 1_000)
    }

    @Test func decodeTakesTheNameFromThePathAndReportsUnknownFields() throws {
        let json = #"{"inputs": [{"url": "fake://x", "colour": 1}], "title": "T", "dvr": {"root": "/s", "wat": 2}}"#
        let (config, unknown) = try StreamConfig.decode(json: Data(json.utf8), name: "from-path")
        #expect(config.name == "from-path")
        #expect(unknown == ["dvr.wat", "inputs.colour", "title"])
    }

    @Test func decodeRejectsMalformedJSON() {
        #expect(throws: StreamListError.self) { try StreamConfig.decode(json: Data("{nope".utf8)) }
    }

    @Test func decodableThrowsTheStreamError() {
        let json = streamJSON("cam1", #""dvr": {"root": "/s", "disk_usage_limit": 101}"#)
        let error = #expect(throws: StreamConfigError.self) {
            try JSONDecoder().decode(StreamConfig.self, from: Data(json.utf8))
        }
        #expect(error?.stream == "cam1")
        #expect(error?.field == "dvr.disk_usage_limit")
    }

    @Test func inputsAreOrderedByPriority() {
        let config = StreamConfig(
            name: "x",
            inputs: [InputConfig(url: "fake://a", priority: 2), InputConfig(url: "fake://b"), InputConfig(url: "fake://c")]
        )
        #expect(config.inputsByPriority.map(\.url) == ["fake://b", "fake://c", "fake://a"])
        #expect(!config.acceptsPublish)
        #expect(StreamConfig(name: "p", inputs: [InputConfig(url: "publish://")]).acceptsPublish)
        #expect(InputConfig(url: "RTSP://h/x").scheme == "rtsp")
        #expect(InputConfig(url: "nothing").scheme == nil)
    }

    @Test func bareStringInputsAndPushesAreAccepted() throws {
        let json = #"{"name": "x", "inputs": ["fake://a"], "pushes": ["rtmp://h/app/x"]}"#
        let config = try JSONDecoder().decode(StreamConfig.self, from: Data(json.utf8))
        #expect(config.inputs == [InputConfig(url: "fake://a")])
        #expect(config.pushes == [PushConfig(url: "rtmp://h/app/x")])
    }
}
