import EstuaryMP4
import EstuaryMedia
import NIOCore

/// Turns frames into the M4F byte stream of DESIGN §4.3: an init chunk whenever the tracks
/// change, then fragments of at most 200 ms with `styp` before each keyframe.
public struct M4FPackager: Sendable {
    private var accumulator: FragmentAccumulator
    private var writer = FragmentWriter()
    private var tracks: [TrackInfo] = []
    private var lastDurations: [Int: Int64] = [:]

    public init(fragmentDuration: Int64 = 18_000) {
        accumulator = FragmentAccumulator(maximumDuration: fragmentDuration)
    }

    /// The tracks in use.
    public var currentTracks: [TrackInfo] { tracks }

    /// Declares the tracks; returns the new init chunk if they changed.
    public mutating func setTracks(_ newTracks: [TrackInfo]) -> LiveChunk? {
        let sorted = newTracks.sorted { $0.id < $1.id }
        guard sorted != tracks else { return nil }
        tracks = sorted
        accumulator.reset(hasVideo: sorted.contains { $0.codec.isVideo })
        for track in sorted {
            if case .aac(let aac) = track.config { lastDurations[track.id] = aac.frameDuration90k }
        }
        let bytes = InitSegmentWriter.write(tracks: sorted)
        return LiveChunk(kind: .header, bytes: bytes, startsSegment: false, decodeTime: 0, duration: 0, wallClockMicros: 0)
    }

    /// Forgets the fragment in progress: the next fragment starts at a keyframe (fragment numbers go on).
    public mutating func restart() {
        accumulator.reset(hasVideo: tracks.contains { $0.codec.isVideo })
    }

    /// Adds a frame; returns a fragment chunk when one is complete.
    public mutating func push(_ frame: MediaFrame) -> LiveChunk? {
        guard tracks.contains(where: { $0.id == frame.trackID }) else { return nil }
        guard let group = accumulator.push(frame) else { return nil }
        return fragment(group)
    }

    /// Completes the fragment in progress.
    public mutating func flush() -> LiveChunk? {
        guard let group = accumulator.flush() else { return nil }
        return fragment(group)
    }

    private mutating func fragment(_ group: FragmentAccumulator.Group) -> LiveChunk {
        var trackFragments: [TrackFragment] = []
        for track in tracks {
            let frames = group.frames.filter { $0.trackID == track.id }
            guard let first = frames.first else { continue }
            var samples: [FragmentSample] = []
            samples.reserveCapacity(frames.count)
            for (index, frame) in frames.enumerated() {
                let next = index + 1 < frames.count ? frames[index + 1].dts : group.nextDecodeTimes[track.id]
                var duration = next.map { $0 - frame.dts } ?? lastDurations[track.id] ?? 3600
                if duration <= 0 || duration > 900_000 { duration = lastDurations[track.id] ?? 3600 }
                lastDurations[track.id] = duration
                samples.append(
                    FragmentSample(
                        duration: UInt32(duration), compositionOffset: Int32(clamping: frame.compositionOffset),
                        isKeyframe: frame.isKeyframe, data: frame.data))
            }
            trackFragments.append(TrackFragment(trackID: track.id, baseDecodeTime: first.dts, samples: samples))
        }
        // prft refers to the video track when there is one (tracks are sorted, video first).
        let reference = trackFragments[0]
        let referenceFrame = group.frames.first { $0.trackID == reference.trackID } ?? group.frames[0]
        let content = FragmentContent(
            startsSegment: group.startsSegment, wallClockMicros: referenceFrame.wallClockMicros, referenceTrackID: reference.trackID,
            referenceDecodeTime: reference.baseDecodeTime, tracks: trackFragments)
        var bytes = ByteBuffer()
        bytes.reserveCapacity(group.frames.reduce(512) { $0 + $1.data.readableBytes + 16 })
        writer.write(content, into: &bytes)
        let duration = reference.samples.reduce(Int64(0)) { $0 + Int64($1.duration) }
        return LiveChunk(
            kind: .media, bytes: bytes, startsSegment: group.startsSegment, decodeTime: reference.baseDecodeTime, duration: duration,
            wallClockMicros: referenceFrame.wallClockMicros)
    }
}
