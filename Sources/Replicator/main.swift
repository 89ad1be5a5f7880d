import ArgumentParser
import AsyncHTTPClient
import EstuaryNode
import EstuaryReplication
import Foundation
import Logging

/// `replicator`: copies the archive a secondary dvr-node is missing from its primary (one per secondary,
/// in its pod), within one total speed limit; serves `GET /status` and `GET /metrics`.
@main
struct ReplicatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicator", abstract: "Copy missing DVR archive from each replicated stream's primary into the target dvr-node.")

    @Option(help: "Status listener HOST:PORT (env REPLICATOR_LISTEN, default 0.0.0.0:8090).") var listen: String?
    @Option(help: "The secondary dvr-node (env REPLICATOR_TARGET, default http://127.0.0.1:8080).") var target: String?
    @Option(help: "Total speed limit, bits/s with K/M/G (env REPLICATOR_SPEED_LIMIT).") var speedLimit: String?
    @Option(help: "Shared secret between nodes (env ESTUARY_CLUSTER_KEY).") var clusterKey: String?

    func run() async throws {
        NodeLogging.bootstrap()
        let logger = Logger(label: "estuary.replicator")
        let settings: ReplicatorSettings
        do {
            settings = try ReplicatorSettings.resolve(
                listen: listen, target: target, speedLimit: speedLimit, clusterKey: clusterKey,
                environment: ProcessInfo.processInfo.environment)
        } catch {
            logger.critical("cannot start: \(error)")
            throw error
        }
        let client: HTTPClient
        do {
            client = try Replicator.makeHTTPClient(settings)
        } catch {
            logger.critical("cannot start: \(error)")
            throw error
        }
        let replicator = Replicator(settings: settings, logger: logger, client: client)
        let app = ReplicatorStatusServer.application(for: replicator, logger: logger)
        logger.info(
            "replicating into \(settings.target)", metadata: ["speed_limit": "\(settings.speedLimit.map(String.init) ?? "none")"])
        do {
            try await NodeLauncher.runServices([app, replicator], logger: logger, shutdownTimeout: .seconds(10))
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
