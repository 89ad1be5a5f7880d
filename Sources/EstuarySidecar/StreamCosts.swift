/// How much of a node's load each stream is, from the input bitrates the nodes report.
///
/// A stream no node reports a bitrate for costs 1. A reported one costs half for being a stream (sessions,
/// packaging per frame) and half for its bitrate against the mean of the reported ones: `0.5 + 0.5 × b / mean`,
/// rounded to a quarter and kept within 0.5…8. The rounding keeps a bitrate that wanders by a few percent from
/// moving streams; equal bitrates cost exactly 1 each, so a cluster of like streams balances by count.
/// Every sidecar reading the same reports computes the same costs.
public struct StreamCosts: Sendable, Equatable {
    /// The cost of each stream with a reported bitrate; any other costs 1.
    public private(set) var reported: [String: Double] = [:]

    /// Costs from the live nodes' reports (a stream reported by two nodes during a handover takes the higher
    /// bitrate).
    public init(reports: [NodeStatus]) {
        var bitrates: [String: Int64] = [:]
        for report in reports {
            for (name, bitrate) in report.streamBitrates where bitrate > 0 {
                bitrates[name] = max(bitrates[name] ?? 0, bitrate)
            }
        }
        guard !bitrates.isEmpty else { return }
        let mean = Double(bitrates.values.reduce(0, +)) / Double(bitrates.count)
        reported = bitrates.mapValues { bitrate in
            let cost = 0.5 + 0.5 * Double(bitrate) / mean
            return min(8, max(0.5, (cost * 4).rounded() / 4))
        }
    }

    /// The cost of the stream named `name`.
    public subscript(name: String) -> Double { reported[name] ?? 1 }
}
