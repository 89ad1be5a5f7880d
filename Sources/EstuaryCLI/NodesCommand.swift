import ArgumentParser
import Foundation
import NIOHTTP1

/// `estuary nodes`: the nodes the sidecars registered (capture-once) or the configuration declares (static).
struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nodes", abstract: "List the cluster's nodes and their load.")
    @Option(help: "The config-sidecar (env ESTUARY_SIDECAR, default http://127.0.0.1:8070).") var sidecar: String?

    func run() async throws {
        let answer = try await SidecarAdminClient(sidecar).send(.GET, "/admin/nodes") as? [String: Any]
        let nodes = answer?["nodes"] as? [[String: Any]] ?? []
        printTable(
            ["NAME", "ROLE", "ADVERTISE", "LIVE", "STREAMS", "BITRATE", "LABELS"],
            nodes.map { node in
                let labels = (node["labels"] as? [String: Any] ?? [:]).map { "\($0)=\($1)" }.sorted().joined(separator: ",")
                let live = node["live"].map { ($0 as? Bool) == true ? "yes" : "no" } ?? "-"
                let bitrate = (node["bitrate"] as? Int).map { "\($0 / 1000) kbit/s" } ?? "-"
                return [
                    node["name"] as? String ?? "", node["role"] as? String ?? "", node["advertise"] as? String ?? "", live,
                    (node["streams"] as? Int).map(String.init) ?? "-", bitrate, labels.isEmpty ? "-" : labels,
                ]
            })
    }
}
