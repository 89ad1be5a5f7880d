import EstuaryConfig
import Foundation
import Testing

/// The README's configuration reference against the code: every environment variable any executable reads and
/// every YAML key `EstuaryConfig` parses must be listed there.
@Suite struct ConfigurationReferenceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The README's `## Configuration reference` section.
    static func reference() throws -> String {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "## Configuration reference\n") else { throw ReferenceMissing() }
        let rest = readme[start.upperBound...]
        let end = rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }

    struct ReferenceMissing: Error {}

    /// Every match of `pattern`'s first capture group in the Swift files under `directory`.
    static func scan(_ directory: String, _ pattern: String) throws -> Set<String> {
        let expression = try NSRegularExpression(pattern: pattern)
        var found = Set<String>()
        let base = root.appendingPathComponent(directory)
        let files = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        for file in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in expression.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                guard let range = Range(match.range(at: 1), in: text) else { continue }
                found.insert(String(text[range]))
            }
        }
        return found
    }

    @Test func everyEnvironmentVariableTheCodeReadsIsDocumented() throws {
        let reference = try Self.reference()
        var names = try Self.scan("Sources", #""((?:ESTUARY|SIDECAR|REPLICATOR|STREAMER|LOG)_[A-Z_]+)""#)
        names.formUnion(NodeEnvironmentKey.allCases.map(\.rawValue))
        #expect(names.count >= 30, "the scan found too little: \(names.sorted())")
        let missing = names.filter { !reference.contains("`\($0)`") }.sorted()
        #expect(missing.isEmpty, "not in the README's configuration reference: \(missing)")
    }

    @Test func everyYAMLKeyTheParserReadsIsDocumented() throws {
        let reference = try Self.reference()
        // The keys are the string literals the readers are called with: reader.int("http"), bool("dvr_replicate", "replicate").
        let lists = try Self.scan("Sources/EstuaryConfig", #"[A-Za-z]+\(((?:"[a-z][a-z0-9_]*"(?:, )?)+)[,)]"#)
        let keys = Set(lists.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) } })
        #expect(
            keys.isSuperset(of: ["listen", "tls", "client_limits", "inputs", "dvr", "replication_port", "on_play"]), "\(keys.sorted())")
        let missing = keys.filter { !reference.contains("`\($0)`") }.sorted()
        #expect(missing.isEmpty, "not in the README's configuration reference: \(missing)")
    }

    /// The documented top-level keys are ones the node accepts: a file using them all draws no unknown-field warning.
    @Test func theDocumentedKeysAreAcceptedWithoutWarnings() throws {
        let yaml = """
            cluster_key: k
            config_external: http://backend/streams
            listen: {http: 8080, rtmp: 1935, replication: 8002, https: 8443}
            tls: {certificate: /tls/c.pem, key: /tls/k.pem, ca: /tls/ca.pem}
            state_dir: /state
            hostname: node-1
            edit_auth: admin secret
            view_auth: viewer secret
            metrics_auth: prom secret
            api_tokens: [{token: T, role: edit}]
            on_play: http://auth/play
            on_publish: http://auth/publish
            auth_backend_failure: open
            api_dvr_roots: [/storage]
            client_limits: {connections: 10, connections_per_ip: 2, request_timeout: 5, header_bytes: 8192, idle_timeout: 30}
            sources: [{url: "m4f://other:8080", only: [a], dvr: {root: /storage}}]
            streams:
              - name: cam
                static: true
                inputs: [{url: "fake://cam", source_timeout: 5, priority: 0, cluster_key: k2}]
                dvr: {root: /storage, expiration: 1d, storage_limit: 1G, disk_usage_limit: 90, episodes_url: "http://e/x",
                      episodes_expiration: 7d, replicate: true, replication_port: 8002, replication_speed: 10M}
                pushes: [{url: "m4fs://other:8443/cam"}]
                cluster_ingest: {capture_at: node-1}
                password: pw
                on_play: http://auth/play2
                on_publish: http://auth/publish2
            """
        let (config, warnings) = try NodeConfig.load(yaml: yaml)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(config.streams.count == 1 && config.listen.https == 8443 && config.tls.ca == "/tls/ca.pem")
    }
}
