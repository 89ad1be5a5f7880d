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
    /// Whether the newest gaps are copied first.
    public var newestFirst: Bool

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
        self.newestFirst = newestFirst
        primaryCount = sorted.count
        presentCount = present
    }

    /// The runs cut into pieces of at most `maxBytes` (at least one segment each), in copy order (within a run
    /// too, the newest piece first when the newest gaps are): each piece is one request, so that several can
    /// be in flight for one stream and a long gap does not leave one connection copying alone.
    public func pieces(maxBytes: Int) -> [[RemoteSegment]] {
        runs.flatMap { run -> [[RemoteSegment]] in
            var pieces: [[RemoteSegment]] = []
            var current: [RemoteSegment] = []
            var bytes = 0
            for segment in run {
                if !current.isEmpty && bytes + segment.bytes > maxBytes {
                    pieces.append(current)
                    current = []
                    bytes = 0
                }
                current.append(segment)
                bytes += segment.bytes
            }
            if !current.isEmpty { pieces.append(current) }
            return newestFirst ? pieces.reversed() : pieces
        }
    }

    /// The whole seconds to ask the primary for a piece (`archive-FROM-DURATION.m4f` takes every segment that
    /// overlaps them): the piece's first start rounded up and its last end rounded down, so that the
    /// neighbouring segments, which end or begin within the same second, are left out. Two pieces copied at once
    /// then never carry the same segment. A piece shorter than that rounding is asked for rounded outwards.
    public static func window(of piece: [RemoteSegment]) -> (from: Int64, duration: Int64) {
        let first = piece[0]
        let last = piece[piece.count - 1]
        var from = (first.startMs + 999) / 1000
        if from * 1000 >= first.endMs { from = first.startMs / 1000 }
        var end = last.endMs / 1000
        if end * 1000 <= last.startMs { end = (last.endMs + 999) / 1000 }
        return end > from ? (from, end - from) : (first.startMs / 1000, max(1, (last.endMs + 999) / 1000 - first.startMs / 1000))
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
