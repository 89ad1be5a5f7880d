import ArgumentParser
import Foundation

/// The root command: one subcommand per benchmark.
struct EstuaryBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "estuary-bench",
        abstract: "Benchmarks of Estuary's ingest-node. Each starts the nodes it measures on 127.0.0.1 and prints plain lines.",
        subcommands: [
            FanoutCommand.self, IngestCommand.self, LatencyCommand.self, ConfigCommand.self, DVRIndexCommand.self, DVRRecordCommand.self,
            DVRServeCommand.self, ReplicateCommand.self, SidecarCommand.self, SidecarStartCommand.self, RTMPCommand.self,
        ])
}

/// Options every benchmark shares: where the node binary is and how long to wait for it.
struct NodeBinaryOptions: ParsableArguments {
    @Option(help: "The ingest-node executable (default: next to estuary-bench).")
    var nodeBinary: String?

    @Flag(help: "Keep the scratch directory (node configurations and logs) after the run.")
    var keepFiles = false

    /// The node executable: the flag, or `name` (default `ingest-node`) in the bench binary's own directory.
    func resolvedNodeBinary(_ name: String = "ingest-node") throws -> String {
        if let nodeBinary { return nodeBinary }
        let executable = URL(fileURLWithPath: ProcFS.selfExecutablePath() ?? CommandLine.arguments[0])
        let candidate = executable.deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw BenchError("no \(name) next to estuary-bench at \(candidate); build it or pass --node-binary")
        }
        return candidate
    }
}

/// A comma-separated list of counts, as in `--readers 100,500,1000`.
struct CountList: ExpressibleByArgument, Sendable {
    var values: [Int]

    init(_ values: [Int]) {
        self.values = values
    }

    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        self.values = parts.compactMap { $0 }
    }

    var defaultValueDescription: String { values.map(String.init).joined(separator: ",") }
}

/// An error that ends a benchmark with a message naming what went wrong.
struct BenchError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Formats a figure with a fixed number of decimals.
func fixed(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "nan" }
    return String(format: "%.\(decimals)f", value)
}

/// Seconds elapsed between two instants of the continuous clock.
func elapsedSeconds(_ duration: Duration) -> Double {
    let parts = duration.components
    return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
}

/// Prints a line and flushes stdout at once, so figures appear while a long run goes on.
func report(_ line: String) {
    print(line)
    fflush(nil)
}

/// Prints a diagnostic to stderr.
func note(_ line: String) {
    FileHandle.standardError.write(Data("# \(line)\n".utf8))
}
