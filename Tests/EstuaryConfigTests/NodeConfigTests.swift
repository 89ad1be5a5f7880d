import EstuaryConfig
import Foundation
import Testing

@Suite struct NodeConfigTests {
    @Test func designYAMLExampleLoads() throws {
        let (config, warnings) = try NodeConfig.load(yaml: designYAMLExample)
        #expect(warnings.isEmpty)
        #expect(config.clusterKey == "abcd")
        #expect(config.configExternal == "http://127.0.0.1:8070/streams")
        #expect(config.listen == ListenConfig(http: 8080, rtmp: 1935, replication: 8002))
        #expect(
            config.sources == [
                SourceConfig(url: "m4f://streamer:8081", dvr: DVRConfig(root: "/storage", expiration: 1_728_000, replicate: true))
            ])
        #expect(
            config.streams == [
                StreamConfig(
                    name: "repl_example1",
                    inputs: [InputConfig(url: "m4f://streamer:8081/fake2")],
                    dvr: DVRConfig(root: "/storage", expiration: 604_800, replicate: true, replicationPort: 8002)
                )
            ])
        #expect(config.stateDir == nil)
        #expect(config.hostname == nil)
    }

    @Test func emptyFileIsAnEmptyConfiguration() throws {
        for text in ["", "# nothing here\n", "---\n"] {
            let (config, warnings) = try NodeConfig.load(yaml: text)
            #expect(config == NodeConfig())
            #expect(warnings.isEmpty)
        }
        #expect(NodeConfig().listen == ListenConfig(http: 8080, rtmp: 1935, replication: nil))
    }

    @Test func allOptionsAndUnits() throws {
        let yaml = """
            cluster_key: 12345
            hostname: dvr-0
            state_dir: /var/lib/estuary
            listen: {http: 9080}
            sources:
              - url: m4f://primary:8080
                only: [cam1, cam2]
                except: cam2
              - m4f://other:8080/
            streams:
              - name: cam1
                static: false
                password: "0123"
                inputs:
                  - {url: "rtsp://u:p@10.0.0.5/s1", source_timeout: 30s, priority: 1, cluster_key: k2}
                  - url: publish://
                dvr:
                  root: /storage
                  expiration: 90m
                  storage_limit: 500G
                  disk_usage_limit: 95
                  episodes_url: http://127.0.0.1:8070/episodes
                  episodes_expiration: 20d
                  dvr_replicate: true
                  replication_port: 8002
                  replication_speed: 100M
                cluster_ingest: {capture_at: ingest-0}
                pushes: [{url: "rtmp://cdn/live/cam1"}]
            """
        let (config, warnings) = try NodeConfig.load(yaml: yaml)
        #expect(warnings.isEmpty)
        #expect(config.clusterKey == "12345")
        #expect(config.hostname == "dvr-0")
        #expect(config.stateDir == "/var/lib/estuary")
        #expect(config.listen == ListenConfig(http: 9080, rtmp: 1935, replication: nil))
        #expect(config.sources.count == 2)
        #expect(config.sources[0].only == ["cam1", "cam2"])
        #expect(config.sources[0].except == ["cam2"])
        #expect(config.sources[0].includes("cam1"))
        #expect(!config.sources[0].includes("cam2"))
        #expect(!config.sources[0].includes("cam3"))
        #expect(config.sources[1].includes("anything"))
        #expect(config.sources[1].streamConfig(name: "cam9").inputs == [InputConfig(url: "m4f://other:8080/cam9")])
        let stream = try #require(config.streams.first)
        #expect(stream.isStatic == false)
        #expect(stream.password == "0123")
        #expect(
            stream.inputs == [
                InputConfig(url: "rtsp://u:p@10.0.0.5/s1", sourceTimeout: 30, priority: 1, clusterKey: "k2"),
                InputConfig(url: "publish://"),
            ])
        #expect(
            stream.dvr
                == DVRConfig(
                    root: "/storage", expiration: 5_400, storageLimit: 536_870_912_000, diskUsageLimit: 95,
                    episodesURL: "http://127.0.0.1:8070/episodes", episodesExpiration: 1_728_000, replicate: true,
                    replicationPort: 8002, replicationSpeed: 100_000_000
                ))
        #expect(stream.clusterIngest == ClusterIngestConfig(captureAt: "ingest-0"))
        #expect(stream.pushes == [PushConfig(url: "rtmp://cdn/live/cam1")])
    }

    @Test func anchorsAndMergeKeysWork() throws {
        let yaml = """
            x-dvr: &dvr {root: /storage, expiration: 7d, replicate: true}
            x-more: &more {disk_usage_limit: 90, expiration: 1d}
            streams:
              - {name: a, inputs: [fake://a], dvr: *dvr}
              - name: b
                inputs: [fake://b]
                dvr:
                  <<: [*dvr, *more]
                  replicate: false
            """
        let (config, warnings) = try NodeConfig.load(yaml: yaml)
        #expect(
            config.streams.map(\.dvr) == [
                DVRConfig(root: "/storage", expiration: 604_800, replicate: true),
                DVRConfig(root: "/storage", expiration: 604_800, diskUsageLimit: 90, replicate: false),
            ])
        #expect(warnings.isEmpty)
    }

    @Test func sourceStreamsInheritTheSourceDVR() throws {
        let (config, _) = try NodeConfig.load(yaml: designYAMLExample)
        let stream = config.sources[0].streamConfig(name: "fake2")
        #expect(stream.inputs == [InputConfig(url: "m4f://streamer:8081/fake2")])
        #expect(stream.dvr?.replicate == true)
        #expect(stream.dvr?.expiration == 1_728_000)
        try stream.validate()
    }

    @Test func duplicateStreamNamesAreRejectedNamingTheName() {
        let yaml = """
            streams:
              - {name: cam1, inputs: [fake://a]}
              - {name: cam2, inputs: [fake://b]}
              - {name: cam1, inputs: [fake://c]}
            """
        #expect(throws: NodeConfigError.duplicateStream(name: "cam1")) { try NodeConfig.load(yaml: yaml) }
        let error = #expect(throws: NodeConfigError.self) { try NodeConfig.load(yaml: yaml) }
        #expect(error?.description.contains("'cam1'") == true)
    }

    @Test func invalidStreamsBecomeWarningsAndTheOthersLoad() throws {
        let yaml = """
            colour: blue
            listen: {http: 8080, grpc: 9}
            sources:
              - {url: m4f://s:8081, dvr: {root: /s, weird: 1}, mode: x}
            streams:
              - {name: good, inputs: [fake://a], title: hello}
              - {name: bad, inputs: [fake://b], dvr: {root: /s, expiration: 20x}}
              - {name: good2, inputs: [{url: fake://c, label: x}], title: again}
            """
        let (config, warnings) = try NodeConfig.load(yaml: yaml)
        #expect(config.streams.map(\.name) == ["good", "good2"])
        let invalid = warnings.compactMap { warning -> StreamConfigError? in
            if case .invalidStream(let error) = warning { return error }
            return nil
        }
        #expect(invalid.map(\.stream) == ["bad"])
        #expect(invalid.map(\.field) == ["dvr.expiration"])
        let unknown = warnings.compactMap { warning -> String? in
            if case .unknownField(let name) = warning { return name }
            return nil
        }
        #expect(unknown == ["colour", "listen.grpc", "sources.dvr.weird", "sources.mode", "streams.inputs.label", "streams.title"])
        #expect(warnings.contains { $0.description == "unknown field 'streams.title' ignored" })
    }

    @Test func yamlSyntaxErrorsNameLineAndColumn() {
        let yaml = "cluster_key: abcd\nlisten: {http: 8080\nstreams: []\n"
        let error = #expect(throws: NodeConfigError.self) { try NodeConfig.load(yaml: yaml) }
        guard case .yaml(_, let line?, let column?) = error else {
            Issue.record("expected a YAML error with a position, got \(String(describing: error))")
            return
        }
        #expect(line >= 2)
        #expect(column >= 1)
        #expect(error?.description.contains("line \(line), column \(column)") == true)
    }

    @Test func duplicateKeysAreASyntaxError() {
        #expect(throws: NodeConfigError.self) { try NodeConfig.load(yaml: "cluster_key: a\ncluster_key: b\n") }
    }

    @Test(arguments: [
        ("listen: {http: 0}", "listen.http"),
        ("listen: {rtmp: 70000}", "listen.rtmp"),
        ("listen: {replication: abc}", "listen.replication"),
        ("listen: 8080", "listen"),
        ("config_external: ftp://h/streams", "config_external"),
        ("sources: [{url: rtsp://h/x}]", "sources[0].url"),
        ("sources: [{dvr: {root: /s}}]", "sources[0].url"),
        ("sources: [{url: m4f://h:1, dvr: {root: relative}}]", "sources[0].dvr.root"),
        ("sources: [{url: m4f://h:1, dvr: {root: /s, expiration: soon}}]", "sources[0].dvr.expiration"),
        ("streams: {name: x}", "streams"),
        ("- just a list", "(top level)"),
    ])
    func invalidServerOptions(yaml: String, field: String) {
        let error = #expect(throws: NodeConfigError.self) { try NodeConfig.load(yaml: yaml) }
        guard case .invalidField(let reported, _) = error else {
            Issue.record("expected invalidField, got \(String(describing: error))")
            return
        }
        #expect(reported == field)
    }

    @Test func loadsFromAPath() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("node.yaml").path
        try Data(designYAMLExample.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try NodeConfig.load(path: path).config.clusterKey == "abcd")
        let missing = directory.appendingPathComponent("absent.yaml").path
        let error = #expect(throws: NodeConfigError.self) { try NodeConfig.load(path: missing) }
        guard case .unreadable(let reported, _) = error else {
            Issue.record("expected unreadable, got \(String(describing: error))")
            return
        }
        #expect(reported == missing)
    }
}
