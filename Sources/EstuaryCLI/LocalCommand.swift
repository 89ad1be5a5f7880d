import ArgumentParser
import EstuaryConfig
import EstuaryNode
import EstuaryReplication
import Foundation
import Logging
import ServiceLifecycle

/// `estuary local`: a whole cluster on 127.0.0.1 from the embedded sample configuration.
struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local", abstract: "Run a local cluster on 127.0.0.1 with test streams; Ctrl-C stops it.")

    @Option(help: "The first node's HTTP port; the other nodes use the next ones.") var basePort: Int = 8080
    @Option(help: "Where dvr-0 keeps its archive (default: estuary-local/storage in the temporary directory).")
    var storage: String?

    func run() async throws {
        NodeLogging.bootstrap()
        let logger = Logger(label: "estuary.local")
        let root = storage ?? FileManager.default.temporaryDirectory.appendingPathComponent("estuary-local/storage").path
        let plan = try LocalCluster.plan(basePort: basePort, storage: root)
        var nodes: [Node] = []
        for member in plan {
            var nodeLogger = logger
            nodeLogger[metadataKey: "node"] = .string(member.options.hostname)
            nodes.append(Node(options: member.options, streams: member.streams, logger: nodeLogger))
        }
        var replicatorLogger = logger
        replicatorLogger[metadataKey: "node"] = "replicator"
        let replicator = Replicator(settings: LocalCluster.replicatorSettings(basePort: basePort), logger: replicatorLogger)
        print(LocalCluster.banner(plan))
        fflush(nil)
        let status = ReplicatorStatusServer.application(for: replicator, logger: replicatorLogger)
        try await NodeLauncher.runServices(nodes + [replicator, status], logger: logger, shutdownTimeout: .seconds(5))
    }
}
