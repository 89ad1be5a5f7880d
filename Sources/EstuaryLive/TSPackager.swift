import EstuaryMPEGTS
import EstuaryMedia
import NIOCore

/// Turns frames into the HTTP MPEG-TS output: chunks cut like M4F fragments, each segment
/// start beginning with PAT+PMT and a keyframe so a reader can join at any segment start.
public struct TSPackager: Sendable {
    private var accumulator: FragmentAccumulator
    private var muxer: TSMuxer?

    public init(chunkDuration: Int64 = 18_000) {
        accumulator = FragmentAccumulator(maximumDuration: chunkDuration)
    }

    /// Declares the tracks (the caller calls this only when they change); returns the header
    /// chunk (PAT+PMT) a joining reader needs first. The chunk being cut is discarded.
    public mutating func setTracks(_ tracks: [TrackInfo]) -> LiveChunk? {
        let sorted = tracks.sorted { $0.id < $1.id }
        accumulator.reset(hasVideo: sorted.contains { $0.codec.isVideo })
        var muxer = TSMuxer(tracks: sorted)
        var bytes = ByteBuffer()
        muxer.writeTables(into: &bytes)
        self.muxer = muxer
        return LiveChunk(kind: .header, bytes: bytes, startsSegment: false, decodeTime: 0, duration: 0, wallClockMicros: 0)
    }

    /// Starts cutting anew at the next keyframe (packaging resumes after a pause); the tracks,
    /// continuity counters and PCR are kept.
    public mutating func restart() {
        accumulator.reset(hasVideo: muxer?.tracks.contains { $0.codec.isVideo } ?? false)
    }

    /// Adds a frame; returns a chunk when one is complete.
    public mutating func push(_ frame: MediaFrame) -> LiveChunk? {
        guard muxer != nil else { return nil }
        guard let group = accumulator.push(frame) else { return nil }
        return chunk(group)
    }

    /// Completes the chunk in progress.
    public mutating func flush() -> LiveChunk? {
        guard let group = accumulator.flush() else { return nil }
        return chunk(group)
    }

    private mutating func chunk(_ group: FragmentAccumulator.Group) -> LiveChunk? {
        guard var muxer, let first = group.frames.first, let last = group.frames.last else { return nil }
        var bytes = ByteBuffer()
        bytes.reserveCapacity(group.frames.reduce(0) { $0 + $1.data.readableBytes * 105 / 100 + 200 })
        if group.startsSegment { muxer.writeTables(into: &bytes) }
        for frame in group.frames { muxer.write(frame, into: &bytes) }
        self.muxer = muxer
        return LiveChunk(
            kind: .media, bytes: bytes, startsSegment: group.startsSegment, decodeTime: first.dts, duration: last.dts - first.dts,
            wallClockMicros: first.wallClockMicros)
    }
}
