/// One segment as `dvr/segments` lists it.
public struct RemoteSegment: Sendable, Equatable, Hashable, Codable {
    public var startMs: Int64
    public var durationMs: Int64
    public var bytes: Int
    public var sha256: String

    public init(startMs: Int64, durationMs: Int64, bytes: Int, sha256: String) {
        self.startMs = startMs
        self.durationMs = durationMs
        self.bytes = bytes
        self.sha256 = sha256
    }

    public var endMs: Int64 { startMs + durationMs }

    enum CodingKeys: String, CodingKey {
        case bytes, sha256
        case startMs = "start_ms"
        case durationMs = "duration_ms"
    }
}

/// What is missing on the target, as runs of consecutive primary segments (each run is fetched as one
/// `archive-FROM-DURATION.m4f`).
///
/// Guarantees: a primary segment is missing when the target has no segment with the same start and
/// sha256 and no segment that covers its whole time span (a node that recorded the same moments itself, as
/// in cross-replication, is not sent the other's partial segment of them); runs never join across a gap in the primary's archive; segments newer than `settledBeforeMs`
/// (still being recorded live on both sides) are left to live recording.
public struct ReplicationPlan: Sendable, Equatable {
    /// Runs of missing segments, in the order they will be copied.
    public var runs: [[RemoteSegment]]
    /// Primary segments in the window, and how many of them the target holds.
    public var primaryCount: Int
    public var presentCount: Int

    /// Percent of the primary's segments (in the window) the target holds.
    public var percentPresent: Double {
        primaryCount == 0 ? 100 : Double(presentCount) * 100 / Double(primaryCount)
    }

    /// Missing segments in all.
    public var missing: Int { runs.reduce(0) { $0 + $1.count } }

    public init(
        primary: [RemoteSegment], target: [RemoteSegment], settledBeforeMs: Int64, newestFirst: Bool = true, toleranceMs: Int64 = 1000
    ) {
        let held = Set(target.map { "\($0.startMs)/\($0.sha256)" })
        let covering = Self.coveringSpans(target)
        let sorted = primary.sorted { $0.startMs < $1.startMs }
        var runs: [[RemoteSegment]] = []
        var current: [RemoteSegment] = []
        var present = 0
        for segment in sorted {
            if held.contains("\(segment.startMs)/\(segment.sha256)") || Self.covers(covering, segment) {
                present += 1
                if !current.isEmpty {
                    runs.append(current)
                    current = []
                }
                continue
            }
            guard segment.endMs <= settledBeforeMs else { continue }
            if let last = current.last, segment.startMs > last.endMs + toleranceMs {
                runs.append(current)
                current = []
            }
            current.append(segment)
        }
        if !current.isEmpty { runs.append(current) }
        self.runs = newestFirst ? runs.reversed() : runs
        primaryCount = sorted.count
        presentCount = present
    }

    /// The target's segments as spans sorted by start, each with the furthest end reached by it or an earlier
    /// span (so one binary search answers "does anything cover this?").
    static func coveringSpans(_ segments: [RemoteSegment]) -> [(start: Int64, reach: Int64)] {
        var reach = Int64.min
        return segments.sorted { $0.startMs < $1.startMs }.map { segment in
            reach = max(reach, segment.endMs)
            return (segment.startMs, reach)
        }
    }

    /// Whether one target segment spans all of `segment`: the last span starting at or before it reaches its end.
    /// (`reach` is a running maximum, so it may come from an earlier span; that span also started before.)
    static func covers(_ spans: [(start: Int64, reach: Int64)], _ segment: RemoteSegment) -> Bool {
        var low = 0
        var high = spans.count
        while low < high {
            let middle = (low + high) / 2
            if spans[middle].start <= segment.startMs { low = middle + 1 } else { high = middle }
        }
        return low > 0 && spans[low - 1].reach >= segment.endMs
    }
}
