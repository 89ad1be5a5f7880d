/// Decides when replication must give way to the target's live recording (issue 7: "the live recording is
/// never slowed"): from the target's stream list it finds streams whose recorder has more than
/// ``backlogLimit`` bytes waiting for the disk, or has dropped media since the previous look.
///
/// Guarantees: a stream seen for the first time is judged by its backlog only (drops from before are not
/// blamed on replication); a stream that disappears is forgotten.
public struct LiveLoadGuard: Sendable {
    /// Queued bytes above which a stream's live recording counts as lagging.
    public var backlogLimit: Int
    private var dropped: [String: Int] = [:]

    public init(backlogLimit: Int = 4 << 20) {
        self.backlogLimit = backlogLimit
    }

    /// One recorded stream's live state, as the target reports it.
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var backlogBytes: Int
        public var droppedChunks: Int

        public init(name: String, backlogBytes: Int, droppedChunks: Int) {
            self.name = name
            self.backlogBytes = backlogBytes
            self.droppedChunks = droppedChunks
        }
    }

    /// The streams whose live recording lags now, each with why.
    public mutating func lagging(_ samples: [Sample]) -> [String] {
        var lagging: [String] = []
        var seen: [String: Int] = [:]
        for sample in samples {
            seen[sample.name] = sample.droppedChunks
            if sample.backlogBytes > backlogLimit {
                lagging.append("\(sample.name): \(sample.backlogBytes) bytes wait for the disk")
            } else if let before = dropped[sample.name], sample.droppedChunks > before {
                lagging.append("\(sample.name): \(sample.droppedChunks - before) chunks dropped")
            }
        }
        dropped = seen
        return lagging
    }
}
