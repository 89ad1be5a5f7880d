import ArgumentParser
import EstuaryConfig
import EstuaryNode

/// `ingest-node`: captures sources and serves them live (M4F, HLS, HTTP MPEG-TS).
@main
struct IngestNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-node", abstract: "Capture live sources and serve them over M4F, HLS and HTTP MPEG-TS.")

    @Option(help: "The node's YAML configuration file (env ESTUARY_CONFIG).") var config: String?
    @Option(help: "Shared secret between nodes (env ESTUARY_CLUSTER_KEY).") var clusterKey: String?
    @Option(help: "Configuration backend URL (env STREAMER_CONFIG_EXTERNAL).") var configExternal: String?
    @Option(help: "HTTP port (env ESTUARY_HTTP_PORT, default 8080).") var httpPort: Int?
    @Option(help: "RTMP publish port (env ESTUARY_RTMP_PORT, default 1935).") var rtmpPort: Int?
    @Option(help: "This node's name (env HOSTNAME).") var hostname: String?
    @Option(help: "State directory (env ESTUARY_STATE_DIR).") var stateDir: String?

    func run() async throws {
        try await NodeLauncher.run(
            role: "ingest",
            flags: NodeFlags(
                config: config, clusterKey: clusterKey, configExternal: configExternal, httpPort: httpPort, rtmpPort: rtmpPort,
                hostname: hostname,
                stateDir: stateDir))
    }
}
