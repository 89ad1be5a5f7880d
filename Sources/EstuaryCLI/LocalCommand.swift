import ArgumentParser
import EstuaryConfig
import EstuaryNode
import EstuaryReplication
import EstuarySidecar
import Foundation
import Logging
import ServiceLifecycle

/// `estuary local`: a whole cluster on 127.0.0.1 from the embedded sample configuration, each node with its
/// config-sidecar serving it from one central YAML file.
struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local", abstract: "Run a local cluster on 127.0.0.1 with test streams; Ctrl-C stops it.")

    @Option(help: "The first node's HTTP port; the other nodes use the next ones, their sidecars the port minus 10.")
    var basePort: Int = 8080
    @Option(help: "Where dvr-0 keeps its archive (default: estuary-local/storage in the temporary directory).")
    var storage: String?
    @Option(help: "The central configuration file (default: estuary-local/central.yaml, written from the embedded sample).")
    var central: String?
    @Option(help: "Print a one-screen status this many seconds after start and then as often (0: never).")
    var statusEvery: Int = 30

    func run() async throws {
        NodeLogging.bootstrap()
        let logger = Logger(label: "estuary.local")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-local").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let root = storage ?? "\(directory)/storage"
        let centralPath = central ?? "\(directory)/central.yaml"
        if central == nil {
            try LocalCluster.centralYAML(basePort: basePort, storage: root).write(toFile: centralPath, atomically: true, encoding: .utf8)
        }
        let centralConfig: CentralConfig
        do {
            centralConfig = try CentralDocument.parse(yaml: String(contentsOfFile: centralPath, encoding: .utf8))
        } catch {
            logger.critical("central configuration \(centralPath): \(error)")
            throw ExitCode(2)
        }
        let plan = LocalCluster.plan(basePort: basePort, central: centralPath, replicaDirectory: directory)
        var services: [any Service] = []
        var nodes: [Node] = []
        for member in plan {
            var memberLogger = logger
            memberLogger[metadataKey: "node"] = .string(member.options.hostname)
            services.append(try Sidecar(settings: member.sidecar, logger: memberLogger))
            let node = Node(options: member.options, streams: [], logger: memberLogger)
            nodes.append(node)
            services.append(node)
        }
        var replicatorLogger = logger
        replicatorLogger[metadataKey: "node"] = "replicator"
        let replicator = Replicator(settings: LocalCluster.replicatorSettings(basePort: basePort), logger: replicatorLogger)
        print(LocalCluster.banner(plan, central: centralConfig, centralPath: centralPath))
        fflush(nil)
        let status = ReplicatorStatusServer.application(for: replicator, logger: replicatorLogger)
        let screen = LocalStatusService(status: LocalStatus(nodes: nodes, replicator: replicator), interval: .seconds(statusEvery))
        try await NodeLauncher.runServices(services + [replicator, status, screen], logger: logger, shutdownTimeout: .seconds(5))
    }
}
