import EstuaryLive
import NIOCore

/// Cuts a stream's M4F chunks into archive segments: each begins at a keyframe (a chunk that starts a
/// segment) and ends at the first keyframe at or after the next multiple of ``boundaryMs`` of UTC time
/// (so 2 s GOPs give 4 s segments), at a new init segment, or at a gap in UTC time.
///
/// Guarantees: a segment never spans a gap or an init change, so the archive has a gap where the source
/// had an outage and never a fake segment; media before the first keyframe is dropped (counted). Cut
/// points depend only on the chunks' UTC times, not on when recording began: two nodes recording the same
/// M4F bytes cut them into identical segments (after the first), which replication relies on.
public struct SegmentCutter: Sendable {
    /// A complete segment.
    public struct Segment: Sendable {
        /// The init segment its fragments need.
        public var initSegment: ByteBuffer
        /// The fragments' bytes, in order.
        public var fragments: [ByteBuffer]
        /// UTC milliseconds of the first sample (`prft`).
        public var startMs: Int64
        /// Media duration, milliseconds.
        public var durationMs: Int64
    }

    /// Segments end at the first keyframe at or after each multiple of this many milliseconds of UTC.
    public let boundaryMs: Int64
    /// A jump in UTC time larger than this ends the segment (a gap), milliseconds.
    public let gapToleranceMs: Int64
    private var initSegment: ByteBuffer?
    private var fragments: [ByteBuffer] = []
    private var startMs: Int64 = 0
    private var duration: Int64 = 0
    /// Media chunks dropped because no keyframe had started a segment.
    public private(set) var droppedChunks = 0

    /// Creates a cutter.
    public init(boundaryMs: Int64 = 4000, gapToleranceMs: Int64 = 1000) {
        self.boundaryMs = boundaryMs
        self.gapToleranceMs = gapToleranceMs
    }

    /// Adds a chunk; returns the segments it completed (at most one).
    public mutating func push(_ chunk: LiveChunk) -> [Segment] {
        switch chunk.kind {
        case .header:
            let done = flush()
            initSegment = chunk.bytes
            return done.map { [$0] } ?? []
        case .media:
            var done: [Segment] = []
            let chunkMs = chunk.wallClockMicros / 1000
            if !fragments.isEmpty {
                let expected = startMs + duration / 90
                let gap = abs(chunkMs - expected) > gapToleranceMs
                let boundary = (startMs / boundaryMs + 1) * boundaryMs
                if gap || (chunk.startsSegment && chunkMs >= boundary) {
                    if let segment = flush() { done.append(segment) }
                }
            }
            if fragments.isEmpty {
                guard chunk.startsSegment, initSegment != nil else {
                    droppedChunks += 1
                    return done
                }
                startMs = chunkMs
                duration = 0
            }
            fragments.append(chunk.bytes)
            duration += chunk.duration
            return done
        }
    }

    /// Completes the segment in progress, if any.
    public mutating func flush() -> Segment? {
        guard !fragments.isEmpty, let initSegment else { return nil }
        defer {
            fragments = []
            duration = 0
        }
        return Segment(initSegment: initSegment, fragments: fragments, startMs: startMs, durationMs: duration / 90)
    }
}
