import NIOCore

/// One HLS media segment held in memory: whole M4F fragments from a segment start.
public struct HLSSegment: Sendable {
    public var sequence: Int
    public var initVersion: Int
    public var bytes: ByteBuffer
    /// Duration in 90 kHz ticks.
    public var duration: Int64
    public var wallClockMicros: Int64
    /// Whether a discontinuity (new init) precedes this segment.
    public var discontinuity: Bool
}

/// The live HLS window of one stream: fMP4 (CMAF) segments cut at keyframes once at least the
/// target duration has accumulated, a sliding playlist of ``windowSize`` segments, and a few
/// more kept so a slow player can still fetch what it last saw listed.
public struct HLSPlaylist: Sendable {
    public let targetDuration: Int64
    public let windowSize: Int
    public let retainedSegments: Int
    public private(set) var segments: [HLSSegment] = []
    public private(set) var initSegments: [Int: ByteBuffer] = [:]
    private var initVersion = 0
    private var nextSequence = 0
    private var current: HLSSegment?
    private var pendingDiscontinuity = false

    public init(targetDuration: Int64 = 180_000, windowSize: Int = 6, retainedSegments: Int = 3) {
        self.targetDuration = targetDuration
        self.windowSize = windowSize
        self.retainedSegments = retainedSegments
    }

    /// Feeds an M4F chunk; returns true when a segment was completed.
    @discardableResult
    public mutating func add(_ chunk: LiveChunk) -> Bool {
        switch chunk.kind {
        case .header:
            let completed = closeCurrent()
            initVersion += 1
            initSegments[initVersion] = chunk.bytes
            initSegments = initSegments.filter { $0.key >= initVersion - 1 }
            pendingDiscontinuity = initVersion > 1
            return completed
        case .media:
            guard initVersion > 0 else { return false }
            var completed = false
            if chunk.startsSegment, let open = current, open.duration >= targetDuration - 4500 {
                completed = closeCurrent()
            }
            if current == nil {
                guard chunk.startsSegment else { return completed }
                current = HLSSegment(
                    sequence: nextSequence, initVersion: initVersion, bytes: ByteBuffer(), duration: 0,
                    wallClockMicros: chunk.wallClockMicros, discontinuity: pendingDiscontinuity)
                pendingDiscontinuity = false
                nextSequence += 1
            }
            current?.bytes.writeImmutableBuffer(chunk.bytes)
            current?.duration += chunk.duration
            return completed
        }
    }

    /// Ends the segment in progress (stream stopped).
    @discardableResult
    public mutating func closeCurrent() -> Bool {
        guard let segment = current, segment.duration > 0 else {
            current = nil
            return false
        }
        segments.append(segment)
        current = nil
        if segments.count > windowSize + retainedSegments { segments.removeFirst(segments.count - windowSize - retainedSegments) }
        return true
    }

    /// The segment with this sequence number, if still held.
    public func segment(_ sequence: Int) -> HLSSegment? {
        segments.first { $0.sequence == sequence }
    }

    /// The media playlist text, or nil before the first segment is complete.
    public func playlist() -> String? {
        let listed = segments.suffix(windowSize)
        guard let first = listed.first else { return nil }
        let maxDuration = listed.map(\.duration).max() ?? targetDuration
        let target = Int((maxDuration + 89_999) / 90_000)
        var text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:\(max(target, 1))\n"
        text += "#EXT-X-MEDIA-SEQUENCE:\(first.sequence)\n"
        let discontinuities = segments.prefix { $0.sequence < first.sequence }.filter(\.discontinuity).count
        text += "#EXT-X-DISCONTINUITY-SEQUENCE:\(discontinuities)\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        var mapVersion = -1
        for segment in listed {
            if segment.discontinuity, segment.sequence != first.sequence { text += "#EXT-X-DISCONTINUITY\n" }
            if segment.initVersion != mapVersion {
                text += "#EXT-X-MAP:URI=\"init-\(segment.initVersion).mp4\"\n"
                mapVersion = segment.initVersion
            }
            text += "#EXT-X-PROGRAM-DATE-TIME:\(Self.iso8601(micros: segment.wallClockMicros))\n"
            text += "#EXTINF:\(Self.seconds(segment.duration)),\nseg-\(segment.sequence).m4s\n"
        }
        return text
    }

    static func seconds(_ ticks: Int64) -> String { UTCTime.decimalSeconds(ms: ticks / 90) }

    static func iso8601(micros: Int64) -> String { UTCTime.iso8601(ms: micros / 1000) }
}
