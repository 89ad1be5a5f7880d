import ArgumentParser
import Foundation
import NIOHTTP1

/// `estuary streams ls|add|rm`: the central configuration's streams, through a config-sidecar's admin API.
struct StreamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams", abstract: "List, add and remove streams in the central configuration.",
        subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the central streams.")
        @Option(help: "The config-sidecar (env ESTUARY_SIDECAR, default http://127.0.0.1:8070).") var sidecar: String?
        @Option(help: "Only this role.") var role: String?

        func run() async throws {
            let client = SidecarAdminClient(sidecar)
            let query = role.map { "?role=\($0)" } ?? ""
            let answer = try await client.send(.GET, "/admin/streams\(query)") as? [String: Any]
            let streams = answer?["streams"] as? [[String: Any]] ?? []
            let assignments =
                (try? await client.send(.GET, "/admin/assignments") as? [String: Any])?["assignments"] as? [[String: Any]] ?? []
            var placed: [String: String] = [:]
            for entry in assignments {
                let key = "\(entry["role"] as? String ?? "")/\(entry["stream"] as? String ?? "")"
                if let node = entry["node"] as? String {
                    placed[key] = node + ((entry["next_node"] as? String).map { " → \($0)" } ?? "")
                } else if let nodes = entry["nodes"] as? [String] {
                    placed[key] = nodes.joined(separator: ",")
                }
            }
            printTable(
                ["ROLE", "NAME", "INPUT", "CAPTURE_AT", "DVR", "RUNS_ON"],
                streams.map { stream in
                    let role = stream["role"] as? String ?? ""
                    let name = stream["name"] as? String ?? ""
                    let input = ((stream["inputs"] as? [[String: Any]])?.first?["url"] as? String) ?? ""
                    let capture = ((stream["cluster_ingest"] as? [String: Any])?["capture_at"] as? String) ?? "-"
                    let dvr = ((stream["dvr"] as? [String: Any])?["root"] as? String) ?? "-"
                    return [role, name, input, capture, dvr, placed["\(role)/\(name)"] ?? "-"]
                })
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add or replace a stream (flags, or a whole DESIGN §2 stream with --json).")
        @Option(help: "The config-sidecar (env ESTUARY_SIDECAR, default http://127.0.0.1:8070).") var sidecar: String?
        @Argument(help: "The stream's name.") var name: String
        @Option(help: "An input URL; repeat for backups in priority order.") var input: [String] = []
        @Option(help: "The role of the nodes that run it.") var role = "ingest"
        @Option(help: "A node name or label selector (region=eu): the preferred node.") var captureAt: String?
        @Option(help: "stay or return, when the preferred node comes back.") var failback: String?
        @Option(help: "Record to this DVR root.") var dvrRoot: String?
        @Option(help: "Keep the archive this long (20d, 12h).") var dvrExpiration: String?
        @Option(help: "The whole stream as JSON, or - for standard input; the flags above are then ignored.") var json: String?

        func run() async throws {
            var stream: [String: Any]
            if let json {
                let data = json == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: json))
                guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                    throw ValidationError("--json: expected one stream as a JSON object")
                }
                stream = object
            } else {
                guard !input.isEmpty else { throw ValidationError("give at least one --input URL, or --json") }
                stream = ["inputs": input.enumerated().map { ["url": $1, "priority": $0] }]
                var ingest: [String: Any] = [:]
                if let captureAt { ingest["capture_at"] = captureAt }
                if let failback { ingest["failback"] = failback }
                if !ingest.isEmpty { stream["cluster_ingest"] = ingest }
                if let dvrRoot {
                    var dvr: [String: Any] = ["root": dvrRoot]
                    if let dvrExpiration { dvr["expiration"] = dvrExpiration }
                    stream["dvr"] = dvr
                }
            }
            stream["name"] = name
            if stream["role"] == nil { stream["role"] = role }
            let stored = try await SidecarAdminClient(sidecar).send(
                .PUT, "/admin/streams/\(SidecarAdminClient.path(name))?role=\(stream["role"] as? String ?? role)", body: stream)
            let data = try JSONSerialization.data(withJSONObject: stored ?? [:], options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a stream.")
        @Option(help: "The config-sidecar (env ESTUARY_SIDECAR, default http://127.0.0.1:8070).") var sidecar: String?
        @Argument(help: "The stream's name.") var name: String
        @Option(help: "The role of the nodes that run it.") var role = "ingest"

        func run() async throws {
            _ = try await SidecarAdminClient(sidecar).send(.DELETE, "/admin/streams/\(SidecarAdminClient.path(name))?role=\(role)")
            print("removed \(role)/\(name)")
        }
    }
}
