import NIOCore

/// What one M4F fragment carries: the samples of each track over at most ~200 ms, and the
/// UTC time of the first sample for `prft`.
public struct FragmentContent: Sendable {
    /// Whether this fragment begins a new segment (its first video sample is a keyframe);
    /// the writer then emits `styp` before it.
    public var startsSegment: Bool
    /// UTC time of the fragment's first sample, microseconds since 1970.
    public var wallClockMicros: Int64
    /// The track `prft` refers to and the decode time (90 kHz) that UTC time belongs to.
    public var referenceTrackID: Int
    public var referenceDecodeTime: Int64
    /// One run of samples per track; tracks without samples are left out.
    public var tracks: [TrackFragment]

    public init(
        startsSegment: Bool, wallClockMicros: Int64, referenceTrackID: Int, referenceDecodeTime: Int64,
        tracks: [TrackFragment]
    ) {
        self.startsSegment = startsSegment
        self.wallClockMicros = wallClockMicros
        self.referenceTrackID = referenceTrackID
        self.referenceDecodeTime = referenceDecodeTime
        self.tracks = tracks
    }
}

/// The samples of one track inside a fragment, in decode order.
public struct TrackFragment: Sendable {
    public var trackID: Int
    /// Decode time of the first sample (`tfdt`), 90 kHz.
    public var baseDecodeTime: Int64
    public var samples: [FragmentSample]

    public init(trackID: Int, baseDecodeTime: Int64, samples: [FragmentSample]) {
        self.trackID = trackID
        self.baseDecodeTime = baseDecodeTime
        self.samples = samples
    }
}

/// One sample: its duration and composition offset (90 kHz), sync flag and payload.
public struct FragmentSample: Sendable {
    public var duration: UInt32
    public var compositionOffset: Int32
    public var isKeyframe: Bool
    public var data: ByteBuffer

    public init(duration: UInt32, compositionOffset: Int32, isKeyframe: Bool, data: ByteBuffer) {
        self.duration = duration
        self.compositionOffset = compositionOffset
        self.isKeyframe = isKeyframe
        self.data = data
    }
}
