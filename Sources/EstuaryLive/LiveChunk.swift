import EstuaryHub
import NIOCore

/// A piece of a live output byte stream (M4F or MPEG-TS), shared by every reader.
public struct LiveChunk: HubItem {
    /// What the bytes are.
    public enum Kind: Sendable, Equatable {
        /// An initialization segment (`ftyp`+`moov`) or, for MPEG-TS, PAT+PMT.
        case header
        /// Media: M4F `[styp] prft moof mdat`, or TS packets.
        case media
    }

    public var kind: Kind
    public var bytes: ByteBuffer
    /// Whether this chunk starts with a keyframe (a segment start); readers may begin here.
    public var startsSegment: Bool
    /// Decode time (90 kHz) of the chunk's first frame and the media time it spans.
    public var decodeTime: Int64
    public var duration: Int64
    /// UTC microseconds of the chunk's first frame.
    public var wallClockMicros: Int64

    public init(kind: Kind, bytes: ByteBuffer, startsSegment: Bool, decodeTime: Int64, duration: Int64, wallClockMicros: Int64) {
        self.kind = kind
        self.bytes = bytes
        self.startsSegment = startsSegment
        self.decodeTime = decodeTime
        self.duration = duration
        self.wallClockMicros = wallClockMicros
    }

    public var isSyncPoint: Bool { startsSegment }
    public var byteCount: Int { bytes.readableBytes }
}
