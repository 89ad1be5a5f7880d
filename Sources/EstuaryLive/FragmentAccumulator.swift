import EstuaryMedia

/// Groups frames into fragments the way every live output cuts them: a fragment spans at most
/// ``maximumDuration`` of media, and a video keyframe always begins a new fragment that starts
/// a segment. Audio-only streams start a segment every ``audioSegmentDuration``.
///
/// Before the first video keyframe nothing is emitted (a reader could not decode it).
public struct FragmentAccumulator: Sendable {
    /// A completed group of frames.
    public struct Group: Sendable {
        public var frames: [MediaFrame]
        public var startsSegment: Bool
        /// The decode time of the frame that follows the group, per track, when known.
        public var nextDecodeTimes: [Int: Int64]
    }

    public var maximumDuration: Int64
    public var audioSegmentDuration: Int64
    private(set) var hasVideo = false
    private var started = false
    private var frames: [MediaFrame] = []
    private var startsSegment = false
    private var firstDTS: Int64 = 0
    private var lastSegmentStart: Int64 = .min

    public init(maximumDuration: Int64 = 18_000, audioSegmentDuration: Int64 = 180_000) {
        self.maximumDuration = maximumDuration
        self.audioSegmentDuration = audioSegmentDuration
    }

    /// Declares the stream's tracks; a change restarts at the next keyframe.
    public mutating func reset(hasVideo: Bool) {
        self.hasVideo = hasVideo
        started = false
        frames.removeAll()
        lastSegmentStart = .min
    }

    /// Adds a frame; returns the group it completed, if any.
    public mutating func push(_ frame: MediaFrame) -> Group? {
        let isVideo = frame.codec.isVideo
        if !started {
            if hasVideo {
                guard isVideo, frame.isKeyframe else { return nil }
            }
            started = true
        }
        let newSegment: Bool
        if hasVideo {
            newSegment = isVideo && frame.isKeyframe
        } else {
            newSegment = lastSegmentStart == .min || frame.dts - lastSegmentStart >= audioSegmentDuration
        }
        var completed: Group?
        if !frames.isEmpty, newSegment || frame.dts - firstDTS >= maximumDuration {
            completed = Group(frames: frames, startsSegment: startsSegment, nextDecodeTimes: [frame.trackID: frame.dts])
            frames.removeAll(keepingCapacity: true)
        }
        if frames.isEmpty {
            firstDTS = frame.dts
            startsSegment = newSegment
            if newSegment { lastSegmentStart = frame.dts }
        }
        frames.append(frame)
        return completed
    }

    /// Completes the group in progress (end of input, or an upstream fragment boundary).
    public mutating func flush() -> Group? {
        guard !frames.isEmpty else { return nil }
        defer { frames.removeAll(keepingCapacity: true) }
        return Group(frames: frames, startsSegment: startsSegment, nextDecodeTimes: [:])
    }
}
