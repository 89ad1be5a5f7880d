import ArgumentParser
import EstuaryConfig
import EstuaryNode

/// `dvr-node`: records streams to a crash-safe archive, cleans it up and plays it back; serves the live
/// outputs of what it records too.
@main
struct DVRNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dvr-node", abstract: "Record streams to disk with retention, and play the archive back by time range.")

    @Option(help: "The node's YAML configuration file (env ESTUARY_CONFIG).") var config: String?
    @Option(help: "Shared secret between nodes (env ESTUARY_CLUSTER_KEY).") var clusterKey: String?
    @Option(help: "Configuration backend URL (env STREAMER_CONFIG_EXTERNAL).") var configExternal: String?
    @Option(help: "HTTP port (env ESTUARY_HTTP_PORT, default 8080).") var httpPort: Int?
    @Option(help: "This node's name (env HOSTNAME).") var hostname: String?
    @Option(help: "State directory (env ESTUARY_STATE_DIR).") var stateDir: String?

    func run() async throws {
        try await NodeLauncher.run(
            role: "dvr",
            flags: NodeFlags(
                config: config, clusterKey: clusterKey, configExternal: configExternal, httpPort: httpPort, hostname: hostname,
                stateDir: stateDir))
    }
}
