import NIOCore

/// One access unit (a video picture or an audio frame) on the internal 90 kHz timeline.
///
/// Guarantees the payload layout every part of Estuary relies on:
/// - video (H.264, H.265): NAL units, each prefixed by its 4-byte big-endian length (the
///   ISO-BMFF "AVCC" layout), with no access unit delimiters and no parameter sets in band
///   (those live in ``TrackInfo/config``);
/// - audio (AAC): one raw AAC frame, without an ADTS header.
public struct MediaFrame: Sendable, Equatable {
    /// The track this frame belongs to (``TrackInfo/id``).
    public var trackID: Int
    /// The codec of the frame's track.
    public var codec: Codec
    /// Decode timestamp, 90 kHz.
    public var dts: Int64
    /// Presentation timestamp, 90 kHz; `pts >= dts` for well-formed input.
    public var pts: Int64
    /// Whether decoding can start at this frame (an IDR/IRAP picture; every audio frame is one).
    public var isKeyframe: Bool
    /// The payload, laid out as described on the type.
    public var data: ByteBuffer
    /// UTC wall-clock time at which this frame entered Estuary, in microseconds since 1970.
    public var wallClockMicros: Int64

    public init(
        trackID: Int, codec: Codec, dts: Int64, pts: Int64, isKeyframe: Bool, data: ByteBuffer,
        wallClockMicros: Int64
    ) {
        self.trackID = trackID
        self.codec = codec
        self.dts = dts
        self.pts = pts
        self.isKeyframe = isKeyframe
        self.data = data
        self.wallClockMicros = wallClockMicros
    }

    /// The composition offset (`pts - dts`).
    public var compositionOffset: Int64 { pts - dts }
}

/// The timescale of every ``MediaFrame`` timestamp.
public let mediaTimescale: Int64 = 90_000
