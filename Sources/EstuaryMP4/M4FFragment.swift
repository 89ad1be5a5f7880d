import EstuaryMedia
import NIOCore

/// One fragment read from an M4F stream: its frames on the 90 kHz timeline (decode order,
/// tracks interleaved by DTS), the UTC time of its first sample, and its bytes as received.
public struct M4FFragment: Sendable {
    /// Whether a `styp` preceded this fragment (it begins a segment).
    public var startsSegment: Bool
    /// `mfhd` sequence number.
    public var sequenceNumber: UInt32
    /// UTC microseconds of the first sample: from `prft` if present, else the arrival time.
    public var wallClockMicros: Int64
    /// The frames, with payloads in ``MediaFrame``'s layout.
    public var frames: [MediaFrame]
    /// The fragment's boxes exactly as received (`styp`, `prft`, `moof`, `mdat`, in order).
    public var raw: ByteBuffer
    /// The media time the fragment spans on the 90 kHz timeline: the sum of its first track's sample
    /// durations (the reference track: video when there is one).
    public var duration: Int64 = 0
}
