import ArgumentParser
import EstuaryConfig
import EstuaryNode
import Logging
import ServiceLifecycle

/// `estuary local`: a whole cluster on 127.0.0.1 from the embedded sample configuration.
struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local", abstract: "Run a local cluster on 127.0.0.1 with test streams; Ctrl-C stops it.")

    @Option(help: "The first node's HTTP port; the second node uses the next one.") var basePort: Int = 8080

    func run() async throws {
        NodeLogging.bootstrap()
        let logger = Logger(label: "estuary.local")
        let plan = try LocalCluster.plan(basePort: basePort)
        var nodes: [Node] = []
        for member in plan {
            var nodeLogger = logger
            nodeLogger[metadataKey: "node"] = .string(member.options.hostname)
            nodes.append(Node(options: member.options, streams: member.streams, logger: nodeLogger))
        }
        print(LocalCluster.banner(plan))
        try await NodeLauncher.runServices(nodes, logger: logger, shutdownTimeout: .seconds(5))
    }
}
