import NIOCore

/// One elementary stream of a media stream, with everything a muxer needs to describe it.
///
/// Two `TrackInfo` values compare equal exactly when a muxer would write the same
/// initialization for them, so a change signals "new init segment needed".
public struct TrackInfo: Sendable, Equatable {
    /// 1-based track number, stable for the life of a stream (video is 1, audio 2 by convention).
    public var id: Int
    /// The codec and its decoder configuration.
    public var config: CodecConfig

    public init(id: Int, config: CodecConfig) {
        self.id = id
        self.config = config
    }

    /// The codec of this track.
    public var codec: Codec { config.codec }
}

/// Decoder configuration per codec: parameter sets for video, AudioSpecificConfig for AAC.
public enum CodecConfig: Sendable, Equatable {
    case h264(H264Config)
    case h265(H265Config)
    case aac(AACConfig)

    /// The codec this configuration is for.
    public var codec: Codec {
        switch self {
        case .h264: .h264
        case .h265: .h265
        case .aac: .aac
        }
    }
}

/// H.264 decoder configuration: the raw SPS and PPS NAL units (without start codes or
/// length prefixes) and what the first SPS says.
public struct H264Config: Sendable, Equatable {
    public var sps: [[UInt8]]
    public var pps: [[UInt8]]
    public var info: VideoInfo

    public init(sps: [[UInt8]], pps: [[UInt8]], info: VideoInfo) {
        self.sps = sps
        self.pps = pps
        self.info = info
    }
}

/// H.265 decoder configuration: raw VPS, SPS and PPS NAL units and what the first SPS says.
public struct H265Config: Sendable, Equatable {
    public var vps: [[UInt8]]
    public var sps: [[UInt8]]
    public var pps: [[UInt8]]
    public var info: VideoInfo

    public init(vps: [[UInt8]], sps: [[UInt8]], pps: [[UInt8]], info: VideoInfo) {
        self.vps = vps
        self.sps = sps
        self.pps = pps
        self.info = info
    }
}

/// What a video sequence parameter set declares.
public struct VideoInfo: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// `profile_idc` (H.264) or `general_profile_idc` (H.265).
    public var profile: Int
    /// H.264 `constraint_set` flags byte; for H.265 the general tier flag (0 or 1).
    public var compatibility: Int
    /// `level_idc` (H.264) or `general_level_idc` (H.265).
    public var level: Int

    public init(width: Int, height: Int, profile: Int, compatibility: Int, level: Int) {
        self.width = width
        self.height = height
        self.profile = profile
        self.compatibility = compatibility
        self.level = level
    }
}

/// AAC decoder configuration: the AudioSpecificConfig bytes and what they declare.
public struct AACConfig: Sendable, Equatable {
    /// The raw AudioSpecificConfig (ISO 14496-3 §1.6.2.1), as carried in `esds`.
    public var audioSpecificConfig: [UInt8]
    /// Audio object type (2 = AAC LC).
    public var objectType: Int
    /// Sampling rate in Hz.
    public var sampleRate: Int
    /// Channel configuration (1 = mono, 2 = stereo, …).
    public var channels: Int

    public init(audioSpecificConfig: [UInt8], objectType: Int, sampleRate: Int, channels: Int) {
        self.audioSpecificConfig = audioSpecificConfig
        self.objectType = objectType
        self.sampleRate = sampleRate
        self.channels = channels
    }
}
