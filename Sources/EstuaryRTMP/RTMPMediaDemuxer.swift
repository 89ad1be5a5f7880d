import EstuaryMedia
import NIOCore

/// Turns RTMP audio and video messages (FLV tag bodies) into ``TrackInfo`` and ``MediaFrame`` values:
/// H.264 (codec id 7), H.265 (enhanced RTMP, FourCC `hvc1`) and AAC (sound format 10).
///
/// Guarantees: frames carry 4-byte NAL lengths with access unit delimiters and in-band parameter
/// sets removed (a changed SPS/PPS declares new tracks); tracks are first declared once every track the
/// publisher announced (in `onMetaData` or by a sequence header, even an empty one) has its configuration,
/// with the frames that came before held back and released in order (after at most ``holdLimit`` of media
/// the tracks known so far are declared); frames that arrive before their track's sequence header are dropped; RTMP's 32-bit millisecond timestamps are unwrapped, so a stream
/// may run past 49 days; an undecodable message is reported as an error and skipped.
public struct RTMPMediaDemuxer: Sendable {
    /// What one message produced.
    public enum Output: Sendable, Equatable {
        case tracks([TrackInfo])
        case frame(MediaFrame)
        case error(String)
    }

    public static let videoTrackID = 1
    public static let audioTrackID = 2

    private var video: CodecConfig?
    private var audio: AACConfig?
    private var nalLengthSize = 4
    private var declared: [TrackInfo] = []
    private var expectsVideo = false
    private var expectsAudio = false
    private var started = false
    private var held: [MediaFrame] = []

    /// The most media held back while waiting for an announced track's configuration (2 s).
    public static let holdLimit: Int64 = 2 * 90_000
    private var lastTimestamp: UInt32?
    private var epoch: Int64 = 0

    public init() {}

    /// The tracks known so far (video first).
    public var tracks: [TrackInfo] {
        var tracks: [TrackInfo] = []
        if let video { tracks.append(TrackInfo(id: Self.videoTrackID, config: video)) }
        if let audio { tracks.append(TrackInfo(id: Self.audioTrackID, config: .aac(audio))) }
        return tracks
    }

    /// Milliseconds on a timeline that does not wrap.
    private mutating func unwrap(_ timestamp: UInt32) -> Int64 {
        if let last = lastTimestamp, timestamp < last, last - timestamp > 0x8000_0000 { epoch &+= 1 << 32 }
        lastTimestamp = timestamp
        return epoch &+ Int64(timestamp)
    }

    /// Handles one message of type 8 (audio) or 9 (video).
    public mutating func receive(_ message: RTMPMessage, arrivalMicros: Int64) -> [Output] {
        switch message.typeID {
        case RTMPMessage.Kind.video: return video(message, arrivalMicros: arrivalMicros)
        case RTMPMessage.Kind.audio: return audio(message, arrivalMicros: arrivalMicros)
        case RTMPMessage.Kind.dataAMF0: return metadata(message)
        default: return []
        }
    }

    /// `@setDataFrame`/`onMetaData`: which tracks the publisher will send.
    private mutating func metadata(_ message: RTMPMessage) -> [Output] {
        guard let values = try? AMF0Value.decodeAll(message.payload) else { return [.error("undecodable data message")] }
        for value in values {
            if value["videocodecid"] != nil { expectsVideo = true }
            if value["audiocodecid"] != nil { expectsAudio = true }
        }
        return []
    }

    /// Passes a frame on, or holds it until the announced tracks are configured.
    private mutating func emit(_ frame: MediaFrame) -> [Output] {
        if started { return declareIfChanged() + [.frame(frame)] }
        held.append(frame)
        let ready = (!expectsVideo || video != nil) && (!expectsAudio || audio != nil)
        let span = (held.last?.dts ?? 0) - (held.first?.dts ?? 0)
        guard ready || span >= Self.holdLimit else { return [] }
        started = true
        let frames = held.sorted { $0.dts < $1.dts }
        held = []
        return declareIfChanged() + frames.map { .frame($0) }
    }

    private mutating func declareIfChanged() -> [Output] {
        guard started else { return [] }
        let now = tracks
        guard now != declared else { return [] }
        declared = now
        return [.tracks(now)]
    }

    private mutating func video(_ message: RTMPMessage, arrivalMicros: Int64) -> [Output] {
        var body = message.payload
        guard let first = body.readInteger(as: UInt8.self) else { return [] }
        let isKeyFrame: Bool
        var codec: Codec
        var packetType: UInt8
        var compositionTime: Int32 = 0
        if first & 0x80 != 0 {
            // Enhanced RTMP: [1 IsExHeader][3 FrameType][4 PacketType][FourCC].
            isKeyFrame = (first >> 4) & 0x07 == 1
            packetType = first & 0x0F
            guard let fourCC = body.readString(length: 4) else { return [.error("truncated enhanced RTMP video header")] }
            guard fourCC == "hvc1" || fourCC == "avc1" else { return [.error("video FourCC '\(fourCC)' is not supported")] }
            codec = fourCC == "hvc1" ? .h265 : .h264
            if packetType == 1 {
                guard let value = readSInt24(&body) else { return [.error("truncated composition time")] }
                compositionTime = value
            } else if packetType == 3 {
                packetType = 1
            } else if packetType != 0 {
                return []
            }
        } else {
            isKeyFrame = first >> 4 == 1
            guard first & 0x0F == 7 else { return [.error("video codec id \(first & 0x0F) is not supported (H.264 is 7)")] }
            codec = .h264
            guard let type = body.readInteger(as: UInt8.self), let value = readSInt24(&body) else {
                return [.error("truncated AVC video header")]
            }
            packetType = type
            compositionTime = value
        }
        switch packetType {
        case 0:
            expectsVideo = true
            var record = body.readBytes(length: body.readableBytes) ?? []
            let lengthIndex = codec == .h264 ? 4 : 21
            guard record.count > lengthIndex else { return [.error("\(codec) sequence header of \(record.count) bytes is too short")] }
            nalLengthSize = Int(record[lengthIndex] & 0x03) + 1
            record[lengthIndex] |= 0x03
            do {
                video =
                    codec == .h264
                    ? .h264(try H264Config(decoderConfigurationRecord: record)) : .h265(try H265Config(decoderConfigurationRecord: record))
            } catch {
                return [.error("\(codec) sequence header: \(error)")]
            }
            return declareIfChanged()
        case 1:
            guard let config = video, config.codec == codec else { return [] }
            let dts = unwrap(message.timestamp) &* 90
            var units: [ByteBuffer] = []
            var sps: [[UInt8]] = []
            var pps: [[UInt8]] = []
            var vps: [[UInt8]] = []
            var hasIRAP = false
            while body.readableBytes > 0 {
                guard let length = readLength(&body), let unit = body.readSlice(length: length) else {
                    return [.error("NAL unit length runs past the end of the video message")]
                }
                guard unit.readableBytes > 0 else { continue }
                if codec == .h264 {
                    let type = NALUnits.h264Type(unit) ?? 0
                    switch type {
                    case H264NALType.sps: sps.append(Array(buffer: unit))
                    case H264NALType.pps: pps.append(Array(buffer: unit))
                    case H264NALType.accessUnitDelimiter: break
                    default:
                        if type == H264NALType.idr { hasIRAP = true }
                        units.append(unit)
                    }
                } else {
                    let type = NALUnits.h265Type(unit) ?? 0
                    switch type {
                    case H265NALType.vps: vps.append(Array(buffer: unit))
                    case H265NALType.sps: sps.append(Array(buffer: unit))
                    case H265NALType.pps: pps.append(Array(buffer: unit))
                    case H265NALType.accessUnitDelimiter: break
                    default:
                        if H265NALType.irapRange.contains(type) { hasIRAP = true }
                        units.append(unit)
                    }
                }
            }
            var outputs: [Output] = []
            if !sps.isEmpty, !pps.isEmpty {
                switch config {
                case .h264(let current) where current.sps != sps || current.pps != pps:
                    if let updated = try? H264Config(sps: sps, pps: pps) { video = .h264(updated) }
                case .h265(let current) where current.sps != sps || current.pps != pps:
                    if let updated = try? H265Config(vps: vps.isEmpty ? current.vps : vps, sps: sps, pps: pps) { video = .h265(updated) }
                default:
                    break
                }
                outputs += declareIfChanged()
            }
            guard !units.isEmpty else { return outputs }
            return outputs
                + emit(
                    MediaFrame(
                        trackID: Self.videoTrackID, codec: codec, dts: dts, pts: dts &+ Int64(compositionTime) * 90,
                        isKeyframe: isKeyFrame || hasIRAP, data: NALUnits.lengthPrefixed(units), wallClockMicros: arrivalMicros))
        default:
            return []
        }
    }

    private mutating func audio(_ message: RTMPMessage, arrivalMicros: Int64) -> [Output] {
        var body = message.payload
        guard let first = body.readInteger(as: UInt8.self) else { return [] }
        guard first >> 4 == 10 else { return [.error("sound format \(first >> 4) is not supported (AAC is 10)")] }
        guard let packetType = body.readInteger(as: UInt8.self) else { return [.error("truncated AAC header")] }
        if packetType == 0 {
            expectsAudio = true
            // An encoder that learns its configuration late (ffmpeg copying ADTS) first sends an empty one.
            guard body.readableBytes > 0 else { return [] }
            do {
                audio = try AACConfig(audioSpecificConfig: body.readBytes(length: body.readableBytes) ?? [])
            } catch {
                return [.error("AAC AudioSpecificConfig: \(error)")]
            }
            return declareIfChanged()
        }
        guard audio != nil, body.readableBytes > 0 else { return [] }
        let dts = unwrap(message.timestamp) &* 90
        return emit(
            MediaFrame(
                trackID: Self.audioTrackID, codec: .aac, dts: dts, pts: dts, isKeyframe: true, data: body, wallClockMicros: arrivalMicros))
    }

    private func readLength(_ body: inout ByteBuffer) -> Int? {
        guard let bytes = body.readBytes(length: nalLengthSize) else { return nil }
        return bytes.reduce(0) { $0 << 8 | Int($1) }
    }

    private func readSInt24(_ body: inout ByteBuffer) -> Int32? {
        guard let bytes = body.readBytes(length: 3) else { return nil }
        let value = Int32(bytes[0]) << 16 | Int32(bytes[1]) << 8 | Int32(bytes[2])
        return value & 0x80_0000 != 0 ? value - 0x100_0000 : value
    }
}
