import EstuaryConfig
import Foundation
import Testing

@Suite struct NodeSettingsTests {
    private let file = NodeConfig(
        clusterKey: "yaml-key",
        configExternal: "http://yaml/streams",
        listen: ListenConfig(http: 1111, rtmp: 2222, replication: 3333),
        sources: [SourceConfig(url: "m4f://s:1")],
        streams: [StreamConfig(name: "cam1", inputs: [InputConfig(url: "fake://a")])],
        stateDir: "/yaml/state",
        hostname: "yaml-host"
    )

    private let environment = [
        "ESTUARY_CONFIG": "/env/node.yaml",
        "ESTUARY_CLUSTER_KEY": "env-key",
        "STREAMER_CONFIG_EXTERNAL": "http://env/streams",
        "ESTUARY_HTTP_PORT": "4444",
        "ESTUARY_RTMP_PORT": "5555",
        "ESTUARY_REPLICATION_PORT": "6666",
        "HOSTNAME": "env-host",
        "ESTUARY_STATE_DIR": "/env/state",
    ]

    @Test func yamlWinsOverDefaults() throws {
        let settings = try NodeSettings.resolve(flags: NodeFlags(), environment: [:], file: file, defaultHostname: "default")
        #expect(
            settings
                == NodeSettings(
                    configPath: nil, clusterKey: "yaml-key", configExternal: "http://yaml/streams", httpPort: 1111, rtmpPort: 2222,
                    replicationPort: 3333, hostname: "yaml-host", stateDir: "/yaml/state", streams: file.streams, sources: file.sources
                ))
    }

    @Test func envWinsOverYAML() throws {
        let settings = try NodeSettings.resolve(flags: NodeFlags(), environment: environment, file: file, defaultHostname: "default")
        #expect(settings.configPath == "/env/node.yaml")
        #expect(settings.clusterKey == "env-key")
        #expect(settings.configExternal == "http://env/streams")
        #expect(settings.httpPort == 4444)
        #expect(settings.rtmpPort == 5555)
        #expect(settings.replicationPort == 6666)
        #expect(settings.hostname == "env-host")
        #expect(settings.stateDir == "/env/state")
        #expect(settings.streams == file.streams)
    }

    @Test func flagsWinOverEnv() throws {
        let flags = NodeFlags(
            config: "/flag/node.yaml", clusterKey: "flag-key", configExternal: "http://flag/streams", httpPort: 7777,
            rtmpPort: 8888, replicationPort: 9999, hostname: "flag-host", stateDir: "/flag/state"
        )
        let settings = try NodeSettings.resolve(flags: flags, environment: environment, file: file, defaultHostname: "default")
        #expect(
            settings
                == NodeSettings(
                    configPath: "/flag/node.yaml", clusterKey: "flag-key", configExternal: "http://flag/streams", httpPort: 7777,
                    rtmpPort: 8888, replicationPort: 9999, hostname: "flag-host", stateDir: "/flag/state", streams: file.streams,
                    sources: file.sources
                ))
    }

    @Test func settingsMixSources() throws {
        let settings = try NodeSettings.resolve(
            flags: NodeFlags(httpPort: 7777),
            environment: ["ESTUARY_CLUSTER_KEY": "env-key", "ESTUARY_RTMP_PORT": "", "HOSTNAME": "  "],
            file: file,
            defaultHostname: "default"
        )
        #expect(settings.httpPort == 7777)
        #expect(settings.clusterKey == "env-key")
        #expect(settings.rtmpPort == 2222, "an empty variable counts as unset")
        #expect(settings.hostname == "yaml-host")
        #expect(settings.configExternal == "http://yaml/streams")
    }

    @Test func defaultsWithoutAnything() throws {
        let settings = try NodeSettings.resolve(flags: NodeFlags(), environment: [:], file: nil, defaultHostname: "box")
        #expect(settings == NodeSettings(hostname: "box"))
        #expect(settings.httpPort == 8080)
        #expect(settings.rtmpPort == 1935)
        #expect(settings.replicationPort == nil)
        #expect(settings.clusterKey == nil)
    }

    @Test func badPortsNameTheirSource() {
        #expect(throws: NodeSettingsError.invalidValue(source: "ESTUARY_HTTP_PORT", value: "http", reason: "must be a port within 1…65535"))
        {
            try NodeSettings.resolve(flags: NodeFlags(), environment: ["ESTUARY_HTTP_PORT": "http"], file: nil, defaultHostname: "h")
        }
        #expect(throws: NodeSettingsError.invalidValue(source: "--rtmp-port", value: "0", reason: "must be a port within 1…65535")) {
            try NodeSettings.resolve(flags: NodeFlags(rtmpPort: 0), environment: [:], file: nil, defaultHostname: "h")
        }
        // A valid flag wins even over a broken variable.
        #expect(throws: Never.self) {
            try NodeSettings.resolve(
                flags: NodeFlags(httpPort: 1), environment: ["ESTUARY_HTTP_PORT": "x"], file: nil, defaultHostname: "h")
        }
    }

    @Test func configPathPrecedence() {
        #expect(NodeSettings.configPath(flags: NodeFlags(config: "/f"), environment: ["ESTUARY_CONFIG": "/e"]) == "/f")
        #expect(NodeSettings.configPath(flags: NodeFlags(), environment: ["ESTUARY_CONFIG": "/e"]) == "/e")
        #expect(NodeSettings.configPath(flags: NodeFlags(), environment: [:]) == nil)
    }

    @Test func loadReadsTheFileNamedByTheEnvironment() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("node.yaml").path
        try Data((designYAMLExample + "\nunknown_option: 1\n").utf8).write(to: URL(fileURLWithPath: path))

        let (settings, warnings) = try NodeSettings.load(
            flags: NodeFlags(),
            environment: ["ESTUARY_CONFIG": path, "STREAMER_CONFIG_EXTERNAL": "http://sidecar:8070/streams"],
            defaultHostname: "node-a"
        )
        #expect(settings.configPath == path)
        #expect(settings.clusterKey == "abcd")
        #expect(settings.configExternal == "http://sidecar:8070/streams")
        #expect(settings.replicationPort == 8002)
        #expect(settings.hostname == "node-a")
        #expect(settings.streams.map(\.name) == ["repl_example1"])
        #expect(settings.sources.count == 1)
        #expect(warnings == [.unknownField("unknown_option")])

        let missing = #expect(throws: NodeSettingsError.self) {
            try NodeSettings.load(flags: NodeFlags(config: path + ".absent"), environment: [:], defaultHostname: "h")
        }
        guard case .config(.unreadable) = missing else {
            Issue.record("expected an unreadable file, got \(String(describing: missing))")
            return
        }
    }

    @Test func noFileMeansNoStreams() throws {
        let (settings, warnings) = try NodeSettings.load(flags: NodeFlags(), environment: [:], defaultHostname: "h")
        #expect(settings.streams.isEmpty)
        #expect(warnings.isEmpty)
    }

    @Test func environmentKeysMatchTheDesign() {
        #expect(
            NodeEnvironmentKey.allCases.map(\.rawValue).sorted() == [
                "ESTUARY_CLUSTER_KEY", "ESTUARY_CONFIG", "ESTUARY_HTTPS_PORT", "ESTUARY_HTTP_PORT", "ESTUARY_REPLICATION_PORT",
                "ESTUARY_RTMP_PORT", "ESTUARY_STATE_DIR", "ESTUARY_TLS_CA", "ESTUARY_TLS_CERTIFICATE", "ESTUARY_TLS_KEY", "HOSTNAME",
                "STREAMER_CONFIG_EXTERNAL",
            ])
    }

    @Test func anHTTPSListenerNeedsACertificateAndAKey() throws {
        let yaml = """
            listen: {http: 8080, https: 8443}
            tls: {certificate: /tls/tls.crt, key: /tls/tls.key, ca: /tls/ca.crt}
            """
        let (file, warnings) = try NodeConfig.load(yaml: yaml)
        #expect(warnings.isEmpty)
        #expect(file.listen.https == 8443)
        #expect(file.tls == TLSConfig(certificate: "/tls/tls.crt", key: "/tls/tls.key", ca: "/tls/ca.crt"))
        #expect(throws: NodeConfigError.self) { try NodeConfig.load(yaml: "listen: {https: 8443}\ntls: {ca: /tls/ca.crt}") }
        do {
            _ = try NodeConfig.load(yaml: "listen: {https: 8443}")
            Issue.record("an HTTPS port without a certificate was accepted")
        } catch {
            #expect("\(error)".contains("listen.https"), "\(error)")
        }

        let environment = ["ESTUARY_TLS_CERTIFICATE": "/env/tls.crt", "ESTUARY_TLS_CA": "/env/ca.crt", "ESTUARY_HTTPS_PORT": "9443"]
        let settings = try NodeSettings.resolve(flags: NodeFlags(), environment: environment, file: file, defaultHostname: "h")
        #expect(settings.httpsPort == 9443)
        #expect(settings.tls == TLSConfig(certificate: "/env/tls.crt", key: "/tls/tls.key", ca: "/env/ca.crt"))
        #expect(throws: NodeSettingsError.self) {
            try NodeSettings.resolve(flags: NodeFlags(), environment: ["ESTUARY_HTTPS_PORT": "9443"], file: nil, defaultHostname: "h")
        }
    }
}
