import ArgumentParser

/// `estuary`: the operator's command line.
@main
struct EstuaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estuary", abstract: "Estuary live-video cluster: operator tools.",
        subcommands: [LocalCommand.self, StreamsCommand.self, NodesCommand.self, EpisodesCommand.self, ReplicationCommand.self])
}
