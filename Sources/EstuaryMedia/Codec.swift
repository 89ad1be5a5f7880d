/// A codec Estuary can carry end to end (ingest, M4F, HLS, MPEG-TS, DVR).
public enum Codec: String, Sendable, Hashable, Codable, CustomStringConvertible {
    case h264
    case h265
    case aac

    /// Whether frames of this codec are video.
    public var isVideo: Bool { self != .aac }

    public var description: String { rawValue }
}
