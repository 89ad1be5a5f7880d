/// A stretch of archive without gaps, in UTC milliseconds.
public struct ArchiveRange: Sendable, Equatable, Codable {
    /// UTC milliseconds of the first sample.
    public var fromMs: Int64
    /// UTC milliseconds just after the last sample.
    public var toMs: Int64

    /// Creates a range.
    public init(fromMs: Int64, toMs: Int64) {
        self.fromMs = fromMs
        self.toMs = toMs
    }

    /// Milliseconds covered.
    public var durationMs: Int64 { toMs - fromMs }

    /// The default gap tolerance: segments closer than this are one range (timestamp jitter, not an outage).
    public static let defaultToleranceMs: Int64 = 1000

    /// Merges sorted-or-not spans into ranges; spans closer than `toleranceMs` join.
    public static func merge(_ spans: [ArchiveRange], toleranceMs: Int64 = defaultToleranceMs) -> [ArchiveRange] {
        var result: [ArchiveRange] = []
        for span in spans.sorted(by: { $0.fromMs < $1.fromMs }) {
            if var last = result.last, span.fromMs <= last.toMs + toleranceMs {
                last.toMs = max(last.toMs, span.toMs)
                result[result.count - 1] = last
            } else {
                result.append(span)
            }
        }
        return result
    }
}
