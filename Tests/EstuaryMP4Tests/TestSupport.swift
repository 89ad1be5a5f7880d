import EstuaryMP4
import EstuaryMedia
import EstuaryTestSupport
import NIOCore

/// A reader event in a comparable form (``M4FReader/Event`` is not `Equatable`).
enum Observed: Equatable, CustomStringConvertible {
    case initialization(tracks: [TrackInfo], raw: [UInt8])
    case fragment(ObservedFragment)
    case error(M4FError)

    init(_ event: M4FReader.Event) {
        switch event {
        case .initialization(let tracks, let raw):
            self = .initialization(tracks: tracks, raw: Array(raw.readableBytesView))
        case .fragment(let fragment):
            self = .fragment(
                ObservedFragment(
                    startsSegment: fragment.startsSegment, sequenceNumber: fragment.sequenceNumber,
                    wallClockMicros: fragment.wallClockMicros, frames: fragment.frames, raw: Array(fragment.raw.readableBytesView)))
        case .error(let error):
            self = .error(error)
        }
    }

    /// A one-line summary (byte contents left out), for readable failure messages.
    var description: String {
        switch self {
        case .initialization(let tracks, let raw): "init(\(tracks.map(\.id)), \(raw.count) bytes)"
        case .fragment(let fragment): "fragment(\(fragment))"
        case .error(let error): "error(\(error))"
        }
    }

    var fragment: ObservedFragment? {
        if case .fragment(let fragment) = self { return fragment }
        return nil
    }

    var isError: Bool {
        if case .error = self { return true }
        return false
    }
}

struct ObservedFragment: Equatable, CustomStringConvertible {
    var startsSegment: Bool
    var sequenceNumber: UInt32
    var wallClockMicros: Int64
    var frames: [MediaFrame]
    var raw: [UInt8]

    var description: String {
        "#\(sequenceNumber)\(startsSegment ? " segment" : "") utc \(wallClockMicros), \(frames.count) frames, \(raw.count) bytes"
    }
}

/// Feeds `bytes` to `reader` cut as `chunking` says; returns every event in order.
func read(
    _ bytes: [UInt8], _ chunking: ChunkPattern = .whole, reader: M4FReader = M4FReader(), arrivalMicros: Int64 = 0
) -> [Observed] {
    var reader = reader
    return chunking.chunks(of: bytes).flatMap { reader.feed($0, arrivalMicros: arrivalMicros).map(Observed.init) }
}

/// A stream of H.264 video and AAC audio written with ``InitSegmentWriter`` and
/// ``FragmentWriter``, with everything a test needs to predict what a reader reports.
///
/// Video runs at 25 fps (3 600 ticks a frame) with B-frame composition offsets
/// (I: 0, P: +2 frames, B: -1 frame), `videoFramesPerFragment` frames a fragment and a keyframe
/// every `fragmentsPerSegment` fragments (or at `keyframes`); audio frames last 1 920 ticks
/// (1 024 samples at 48 kHz) and never share a decode time with a video frame, so the order
/// of frames in a fragment is unambiguous. Payload bytes all have their high bit set, so no
/// payload can look like a box header to a resynchronising reader.
struct SyntheticStream {
    struct Options {
        var fragmentCount = 12
        var videoFramesPerFragment = 5
        var fragmentsPerSegment = 3
        /// Video frame indices that are keyframes; nil: the first frame of every segment.
        var keyframes: Set<Int>?
        var videoPayloadSizes: ClosedRange<Int> = 40...1500
        var audioPayloadSizes: ClosedRange<Int> = 20...300
        var firstSequenceNumber: UInt32 = 100
        var seed: UInt64 = 1
        /// Extra tracks per fragment index (for damage such as undeclared tracks).
        var extraTracks: [Int: TrackFragment] = [:]
    }

    static let videoBase: Int64 = 90_000
    static let audioBase: Int64 = 91_000
    static let videoDuration: Int64 = 3_600
    static let audioDuration: Int64 = 1_920
    static let firstWallClock: Int64 = 1_700_000_000_123_457

    let options: Options
    let tracks: [TrackInfo]
    let initSegment: [UInt8]
    let contents: [FragmentContent]
    let fragmentBytes: [[UInt8]]

    init(_ options: Options = Options()) {
        self.options = options
        let video = TrackInfo(id: 1, config: .h264(try! H264Config(sps: [Fixtures.h264HighSPS], pps: [Fixtures.h264HighPPS])))
        let audio = TrackInfo(id: 2, config: .aac(try! AACConfig(audioSpecificConfig: Fixtures.aac48000Stereo)))
        tracks = [video, audio]
        initSegment = Array(InitSegmentWriter.write(tracks: tracks).readableBytesView)

        var generator = SeededGenerator(seed: options.seed)
        let perFragment = options.videoFramesPerFragment
        let gop = perFragment * options.fragmentsPerSegment
        let keyframes = options.keyframes ?? Set(stride(from: 0, to: options.fragmentCount * perFragment, by: gop))
        var writer = FragmentWriter(firstSequenceNumber: options.firstSequenceNumber)
        var contents: [FragmentContent] = []
        var fragmentBytes: [[UInt8]] = []
        var nextAudio = 0
        var lastKeyframe = 0
        for index in 0..<options.fragmentCount {
            var videoSamples: [FragmentSample] = []
            for frame in index * perFragment..<(index + 1) * perFragment {
                let isKeyframe = keyframes.contains(frame)
                if isKeyframe { lastKeyframe = frame }
                let position = frame - lastKeyframe
                let offsetFrames: Int32 = position == 0 ? 0 : (position - 1) % 3 == 0 ? 2 : -1
                let size = Int.random(in: options.videoPayloadSizes, using: &generator)
                var data = ByteBuffer()
                data.writeInteger(UInt32(size + 1))
                data.writeInteger(UInt8(isKeyframe ? 0x65 : 0x41))
                for _ in 0..<size { data.writeInteger(UInt8.random(in: 0x80...0xFF, using: &generator)) }
                videoSamples.append(
                    FragmentSample(
                        duration: UInt32(Self.videoDuration), compositionOffset: offsetFrames * Int32(Self.videoDuration),
                        isKeyframe: isKeyframe, data: data))
            }
            let videoStart = Self.videoBase + Int64(index * perFragment) * Self.videoDuration
            let videoEnd = videoStart + Int64(perFragment) * Self.videoDuration
            let audioStart = Self.audioBase + Int64(nextAudio) * Self.audioDuration
            var audioSamples: [FragmentSample] = []
            while Self.audioBase + Int64(nextAudio) * Self.audioDuration < videoEnd {
                let size = Int.random(in: options.audioPayloadSizes, using: &generator)
                let bytes = (0..<size).map { _ in UInt8.random(in: 0x80...0xFF, using: &generator) }
                audioSamples.append(
                    FragmentSample(
                        duration: UInt32(Self.audioDuration), compositionOffset: 0, isKeyframe: true, data: ByteBuffer(bytes: bytes)))
                nextAudio += 1
            }
            var trackFragments = [
                TrackFragment(trackID: 1, baseDecodeTime: videoStart, samples: videoSamples),
                TrackFragment(trackID: 2, baseDecodeTime: audioStart, samples: audioSamples),
            ]
            if let extra = options.extraTracks[index] { trackFragments.append(extra) }
            // Irregular steps, so a wall clock derived from decode times would not match.
            let wallClock = Self.firstWallClock + Int64(index) * 200_000 + Int64(index * index) * 37
            let content = FragmentContent(
                startsSegment: keyframes.contains(index * perFragment), wallClockMicros: wallClock, referenceTrackID: 1,
                referenceDecodeTime: videoStart, tracks: trackFragments)
            var out = ByteBuffer()
            writer.write(content, into: &out)
            contents.append(content)
            fragmentBytes.append(Array(out.readableBytesView))
        }
        self.contents = contents
        self.fragmentBytes = fragmentBytes
    }

    /// The init segment and every fragment, as one byte stream.
    var bytes: [UInt8] { initSegment + fragmentBytes.joined() }

    /// The fragments `range`, as one byte stream.
    func bytes(fragments range: Range<Int>) -> [UInt8] { Array(fragmentBytes[range].joined()) }

    /// What a reader reports for fragment `index` read intact.
    func expectedFragment(_ index: Int) -> ObservedFragment {
        let content = contents[index]
        var frames: [MediaFrame] = []
        for track in content.tracks {
            let info = tracks.first { $0.id == track.trackID }!
            var dts = track.baseDecodeTime
            for sample in track.samples {
                let pts = dts + Int64(sample.compositionOffset)
                let wallClock = content.wallClockMicros + (dts - content.referenceDecodeTime) * 1_000_000 / mediaTimescale
                frames.append(
                    MediaFrame(
                        trackID: track.trackID, codec: info.codec, dts: dts, pts: pts, isKeyframe: sample.isKeyframe, data: sample.data,
                        wallClockMicros: wallClock))
                dts += Int64(sample.duration)
            }
        }
        frames.sort { $0.dts < $1.dts }
        return ObservedFragment(
            startsSegment: content.startsSegment, sequenceNumber: options.firstSequenceNumber + UInt32(index),
            wallClockMicros: content.wallClockMicros, frames: frames, raw: fragmentBytes[index])
    }

    /// The initialization event.
    var expectedInitialization: Observed { .initialization(tracks: tracks, raw: initSegment) }

    /// The events of the init segment followed by the fragments `indices`, read intact.
    func expectedEvents(fragments indices: some Sequence<Int>) -> [Observed] {
        [expectedInitialization] + indices.map { .fragment(expectedFragment($0)) }
    }

    /// Offset of the first byte of fragment `index`'s box `type` inside that fragment.
    func offset(of type: String, inFragment index: Int) -> Int {
        let bytes = fragmentBytes[index]
        let code = Array(type.utf8)
        var offset = 0
        while offset + 8 <= bytes.count {
            let size = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            if Array(bytes[offset + 4..<offset + 8]) == code { return offset }
            offset += size
        }
        preconditionFailure("no \(type) in fragment \(index)")
    }
}

/// Finds `type` (a four-character code) anywhere in `bytes`, returning the offset of its box's
/// size field.
func boxOffset(_ type: String, in bytes: [UInt8], from start: Int = 0) -> Int? {
    let code = Array(type.utf8)
    var index = max(start, 4)
    while index + 4 <= bytes.count {
        if bytes[index] == code[0], Array(bytes[index..<index + 4]) == code { return index - 4 }
        index += 1
    }
    return nil
}

extension [UInt8] {
    /// The big-endian 32-bit value at `offset`.
    func uint32(at offset: Int) -> UInt32 {
        self[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Replaces the big-endian value at `offset` with `value`, `width` bytes wide.
    mutating func set(_ value: UInt64, width: Int, at offset: Int) {
        for index in 0..<width {
            self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(width - 1 - index)))
        }
    }
}
