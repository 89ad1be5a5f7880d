import ArgumentParser
import EstuaryNode
import EstuarySidecar
import Foundation
import Logging

/// `config-sidecar`: runs beside a node in its pod and serves it the config_external API from a local replica
/// of the central configuration (DESIGN §1, §3, §7).
@main
struct ConfigSidecarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-sidecar",
        abstract: "Serve a node the config_external API from a local replica of the central configuration.")

    @Option(help: "Listener HOST:PORT (env SIDECAR_LISTEN, default 127.0.0.1:8070).") var listen: String?
    @Option(help: "file:///path/streams.yaml, postgres://user:pass@host:port/db or http(s)://backend (env SIDECAR_UPSTREAM).")
    var upstream: String?
    @Option(help: "SQLite replica path (env SIDECAR_REPLICA; none keeps it in memory).") var replica: String?
    @Option(help: "This node's role (env ESTUARY_ROLE, default ingest).") var role: String?
    @Option(help: "This node's name (env HOSTNAME).") var hostname: String?
    @Option(help: "HOST:PORT where other nodes reach this node (env SIDECAR_ADVERTISE).") var advertise: String?
    @Option(help: "Labels for capture_at selectors, key=value,… (env SIDECAR_LABELS).") var labels: String?
    @Option(help: "The node's API, probed for readiness and load (env SIDECAR_NODE_URL, default http://127.0.0.1:8080).")
    var nodeURL: String?

    func run() async throws {
        NodeLogging.bootstrap()
        let logger = Logger(label: "estuary.config-sidecar")
        let settings: SidecarSettings
        do {
            settings = try SidecarSettings.resolve(
                flags: [
                    "SIDECAR_LISTEN": listen, "SIDECAR_UPSTREAM": upstream, "SIDECAR_REPLICA": replica, "ESTUARY_ROLE": role,
                    "HOSTNAME": hostname, "SIDECAR_ADVERTISE": advertise, "SIDECAR_LABELS": labels, "SIDECAR_NODE_URL": nodeURL,
                ],
                environment: ProcessInfo.processInfo.environment)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(2)
        }
        let sidecar: Sidecar
        do {
            sidecar = try Sidecar(settings: settings, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(2)
        }
        try await NodeLauncher.runServices([sidecar], logger: logger, shutdownTimeout: .seconds(5))
    }
}
