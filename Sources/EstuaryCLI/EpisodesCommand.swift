import ArgumentParser
import Foundation
import NIOHTTP1

/// `estuary episodes [add|rm]`: archive episodes kept from deletion.
struct EpisodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "episodes", abstract: "List, add and remove DVR episodes (archive kept from deletion).",
        subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List episodes.")
        @Option(help: "The config-sidecar (env ESTUARY_SIDECAR, default http://127.0.0.1:8070).") var sidecar: String?
        @Option(help: "Only this stream's.") var stream: String?

        func run() async throws {
            let query = stream.map { "?stream=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? ""
            let answer = try await SidecarAdminClient(sidecar).send(.GET, "/admin/episodes\(query)") as? [String: Any]
            let episodes = answer?["episodes"] as? [[String: Any]] ?? []
            func time(_ value: Any?) -> String {
                guard let ms = value as? Int else { return "open" }
                return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
            }
            printTable(
                ["ID", "STREAM", "OPENED", "CLOSED"],
                episodes.map { [$0["id"] as? String ?? "", $0["stream"] as? String ?? "", time($0["opened_at"]), time($0["closed_at"])] })
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add or replace an episode.")
        @Option(help: "The config-sidecar (env ESTUARY_SIDECAR, default http://127.0.0.1:8070).") var sidecar: String?
        @Option(help: "The stream.") var stream: String
        @Option(help: "Start, UTC milliseconds.") var openedAt: Int64
        @Option(help: "End, UTC milliseconds; none keeps it open.") var closedAt: Int64?
        @Option(help: "The episode's id (default stream-openedAt).") var id: String?

        func run() async throws {
            var body: [String: Any] = ["stream": stream, "opened_at": openedAt]
            if let closedAt { body["closed_at"] = closedAt }
            if let id { body["id"] = id }
            let stored = try await SidecarAdminClient(sidecar).send(.PUT, "/admin/episodes", body: body)
            let data = try JSONSerialization.data(withJSONObject: stored ?? [:], options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove an episode.")
        @Option(help: "The config-sidecar (env ESTUARY_SIDECAR, default http://127.0.0.1:8070).") var sidecar: String?
        @Argument(help: "The episode's id.") var id: String

        func run() async throws {
            _ = try await SidecarAdminClient(sidecar).send(.DELETE, "/admin/episodes/\(id)")
            print("removed episode \(id)")
        }
    }
}
