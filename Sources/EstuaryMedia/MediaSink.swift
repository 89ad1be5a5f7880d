import NIOCore

/// Where a source delivers what it captures. A source calls these from one task at a time.
public protocol MediaSink: Sendable {
    /// Declares the tracks (again whenever codec parameters change).
    func setTracks(_ tracks: [TrackInfo])
    /// Delivers one frame, in decode order per track.
    func push(_ frame: MediaFrame)
    /// Marks a natural boundary in the input (e.g. the end of an upstream fragment).
    func flush()
    /// Marks a change of source: timestamps may restart, the output timeline must not.
    func discontinuity()
    /// Reports damaged input the source skipped (a bad packet or box); capture goes on.
    func inputError(_ description: String)
    /// Hands over upstream M4F bytes exactly as received (M4F sources only), after the frames they carry,
    /// so that a recorder can store them unchanged.
    func passthrough(_ chunk: PassthroughChunk)
}

/// Upstream M4F bytes as received: an init segment (`ftyp`+`moov`) or one fragment's boxes.
public struct PassthroughChunk: Sendable {
    /// Whether the bytes are an init segment.
    public var isInitialization: Bool
    /// The bytes.
    public var bytes: ByteBuffer
    /// Whether the fragment begins a segment (a `styp` preceded it: it starts with a keyframe).
    public var startsSegment: Bool
    /// UTC microseconds of the fragment's first sample (`prft`).
    public var wallClockMicros: Int64
    /// The media time the fragment spans, 90 kHz.
    public var duration: Int64

    public init(isInitialization: Bool, bytes: ByteBuffer, startsSegment: Bool, wallClockMicros: Int64, duration: Int64) {
        self.isInitialization = isInitialization
        self.bytes = bytes
        self.startsSegment = startsSegment
        self.wallClockMicros = wallClockMicros
        self.duration = duration
    }
}

extension MediaSink {
    public func discontinuity() {}
    public func inputError(_ description: String) {}
    public func passthrough(_ chunk: PassthroughChunk) {}
}
