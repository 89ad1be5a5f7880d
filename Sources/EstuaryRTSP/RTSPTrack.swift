import EstuaryMedia
import Foundation
import NIOCore

/// One played media section: turns its RTP packets into ``MediaFrame`` values on the 90 kHz timeline.
///
/// Guarantees: parameter sets come from the SDP (`sprop-parameter-sets`, `sprop-vps/sps/pps`) or in band,
/// whichever arrives (a change is reported through ``config``); after any damage, video frames are dropped
/// until the next keyframe; RTP timestamps are unwrapped past 2³², so the timeline never jumps back; decode
/// timestamps stay increasing when the encoder reorders pictures (B-frames: dts lags pts by the largest
/// reordering seen); UTC comes from the latest RTCP sender report, else from arrival.
public struct RTSPTrack: Sendable {
    public enum Kind: Sendable {
        case h264(NALDepacketizer)
        case h265(NALDepacketizer)
        case aac(AACDepacketizer)
    }

    public let id: Int
    public let media: SDPDescription.Media
    public let controlURL: String
    /// The interleaved RTP channel (RTCP is the next one).
    public var channel: UInt8 = 0
    public private(set) var config: CodecConfig?
    private var kind: Kind
    private var waitingForKeyframe = true
    private var lastTimestamp: UInt32?
    private var lastUnwrapped: Int64?
    private var base: Int64?
    private var report: (wallClockMicros: Int64, rtp: Int64)?
    /// Video frames in decode order not yet given a decode timestamp, and their presentation times sorted.
    private var window: [MediaFrame] = []
    private var pendingPTS: [Int64] = []
    private var reorderDelay: Int64?
    private var lastDTS: Int64 = .min

    /// How many frames ahead decode timestamps look: enough for the B-pyramids cameras and encoders use.
    static let reorderLookahead = 4

    /// A track for a media section, or nil when its encoding is not one Estuary plays.
    public init?(id: Int, media: SDPDescription.Media, controlURL: String) throws(RTSPError) {
        self.id = id
        self.media = media
        self.controlURL = controlURL
        switch media.encoding {
        case "H264":
            kind = .h264(NALDepacketizer(codec: .h264))
            if let sets = media.format["sprop-parameter-sets"] {
                let units = sets.split(separator: ",").compactMap { Data(base64Encoded: String($0)).map { [UInt8]($0) } }
                let sps = units.filter { ($0.first ?? 0) & 0x1F == H264NALType.sps }
                let pps = units.filter { ($0.first ?? 0) & 0x1F == H264NALType.pps }
                if !sps.isEmpty, !pps.isEmpty { config = (try? H264Config(sps: sps, pps: pps)).map { .h264($0) } }
            }
        case "H265":
            kind = .h265(NALDepacketizer(codec: .h265))
            func sets(_ key: String) -> [[UInt8]] {
                (media.format[key] ?? "").split(separator: ",").compactMap { Data(base64Encoded: String($0)).map { [UInt8]($0) } }
            }
            let (vps, sps, pps) = (sets("sprop-vps"), sets("sprop-sps"), sets("sprop-pps"))
            if !vps.isEmpty, !sps.isEmpty, !pps.isEmpty { config = (try? H265Config(vps: vps, sps: sps, pps: pps)).map { .h265($0) } }
        case "MPEG4-GENERIC":
            guard let hex = media.format["config"], let bytes = Self.hexBytes(hex) else {
                throw .malformedSDP("AAC track \(id) without a valid fmtp config")
            }
            do {
                config = .aac(try AACConfig(audioSpecificConfig: bytes))
            } catch {
                throw .malformedSDP("AAC track \(id): \(error)")
            }
            kind = .aac(AACDepacketizer(format: media.format))
        default:
            return nil
        }
    }

    /// The codec as a ``TrackInfo``, once its configuration is known.
    public var info: TrackInfo? { config.map { TrackInfo(id: id, config: $0) } }

    /// `rtptime` from the PLAY response's `RTP-Info`: the RTP time of the play range's start.
    public mutating func setStart(rtpTime: UInt32) {
        lastTimestamp = rtpTime
        lastUnwrapped = Int64(rtpTime)
        base = Int64(rtpTime)
    }

    public mutating func receive(senderReport: RTCPSenderReport) {
        report = (senderReport.wallClockMicros, unwrap(senderReport.rtpTimestamp, advance: false))
    }

    /// What one RTP packet produced: frames (and whether the configuration changed first), and damage to report.
    public mutating func receive(_ packet: RTPPacket, arrivalMicros: Int64) -> (frames: [MediaFrame], configChanged: Bool, damage: String?)
    {
        switch kind {
        case .h264(var depacketizer):
            let units = depacketizer.push(packet)
            kind = .h264(depacketizer)
            return video(units, codec: .h264, arrivalMicros: arrivalMicros)
        case .h265(var depacketizer):
            let units = depacketizer.push(packet)
            kind = .h265(depacketizer)
            return video(units, codec: .h265, arrivalMicros: arrivalMicros)
        case .aac(var depacketizer):
            let frames = depacketizer.push(packet)
            kind = .aac(depacketizer)
            guard let frames else { return ([], false, "AAC packet \(packet.sequenceNumber) has inconsistent AU headers") }
            return (
                frames.map { frame in
                    let time = mediaTime(frame.timestamp)
                    return MediaFrame(
                        trackID: id, codec: .aac, dts: time.media, pts: time.media, isKeyframe: true, data: frame.data,
                        wallClockMicros: time.utc ?? arrivalMicros)
                }, false, nil
            )
        }
    }

    private mutating func video(
        _ units: [NALDepacketizer.AccessUnit], codec: Codec, arrivalMicros: Int64
    ) -> (
        frames: [MediaFrame], configChanged: Bool, damage: String?
    ) {
        var frames: [MediaFrame] = []
        var changed = false
        var damage: String?
        for unit in units {
            if unit.damaged {
                damage = "RTP loss in \(codec) access unit at \(unit.timestamp): dropping to the next keyframe"
                waitingForKeyframe = true
                continue
            }
            var sps: [[UInt8]] = []
            var pps: [[UInt8]] = []
            var vps: [[UInt8]] = []
            var slices: [ByteBuffer] = []
            var keyframe = false
            for nal in unit.units {
                if codec == .h264 {
                    let type = NALUnits.h264Type(nal) ?? 0
                    switch type {
                    case H264NALType.sps: sps.append(Array(buffer: nal))
                    case H264NALType.pps: pps.append(Array(buffer: nal))
                    case H264NALType.accessUnitDelimiter, H264NALType.filler: break
                    default:
                        if type == H264NALType.idr { keyframe = true }
                        slices.append(nal)
                    }
                } else {
                    let type = NALUnits.h265Type(nal) ?? 0
                    switch type {
                    case H265NALType.vps: vps.append(Array(buffer: nal))
                    case H265NALType.sps: sps.append(Array(buffer: nal))
                    case H265NALType.pps: pps.append(Array(buffer: nal))
                    case H265NALType.accessUnitDelimiter: break
                    default:
                        if H265NALType.irapRange.contains(type) { keyframe = true }
                        slices.append(nal)
                    }
                }
            }
            if !sps.isEmpty, !pps.isEmpty {
                let updated: CodecConfig?
                if codec == .h264 {
                    updated = (try? H264Config(sps: sps, pps: pps)).map { .h264($0) }
                } else {
                    var known = vps
                    if known.isEmpty, case .h265(let current) = config { known = current.vps }
                    updated = (try? H265Config(vps: known, sps: sps, pps: pps)).map { .h265($0) }
                }
                if let updated, updated != config {
                    config = updated
                    changed = true
                }
            }
            guard !slices.isEmpty, config != nil else { continue }
            if waitingForKeyframe {
                guard keyframe else { continue }
                waitingForKeyframe = false
            }
            let time = mediaTime(unit.timestamp)
            frames += reorder(
                MediaFrame(
                    trackID: id, codec: codec, dts: time.media, pts: time.media, isKeyframe: keyframe,
                    data: NALUnits.lengthPrefixed(slices),
                    wallClockMicros: time.utc ?? arrivalMicros))
        }
        return (frames, changed, damage)
    }

    /// RTP carries presentation times only. The i-th frame in decode order gets the i-th smallest presentation
    /// time, less the reordering delay measured over the first frames (zero without B-frames), so that decode
    /// times increase and never pass presentation times.
    private mutating func reorder(_ frame: MediaFrame) -> [MediaFrame] {
        window.append(frame)
        pendingPTS.insert(frame.pts, at: pendingPTS.firstIndex { $0 > frame.pts } ?? pendingPTS.endIndex)
        guard window.count > Self.reorderLookahead else { return [] }
        if reorderDelay == nil {
            reorderDelay = zip(pendingPTS, window).map { $0 &- $1.pts }.max().map { max($0, 0) } ?? 0
        }
        var out = window.removeFirst()
        var dts = pendingPTS.removeFirst() &- reorderDelay!
        if lastDTS != .min, dts <= lastDTS { dts = lastDTS &+ 1 }
        dts = min(dts, out.pts)
        lastDTS = max(lastDTS, dts)
        out.dts = dts
        return [out]
    }

    private mutating func unwrap(_ timestamp: UInt32, advance: Bool = true) -> Int64 {
        guard let last = lastTimestamp, let lastValue = lastUnwrapped else {
            if advance {
                lastTimestamp = timestamp
                lastUnwrapped = Int64(timestamp)
            }
            return Int64(timestamp)
        }
        let value = lastValue &+ Int64(Int32(bitPattern: timestamp &- last))
        if advance {
            lastTimestamp = timestamp
            lastUnwrapped = value
        }
        return value
    }

    private mutating func mediaTime(_ timestamp: UInt32) -> (media: Int64, utc: Int64?) {
        let value = unwrap(timestamp)
        if base == nil { base = value }
        let clock = Int64(max(media.clockRate, 1))
        // Wrapping arithmetic: a hostile sender's timestamps give nonsense times, never a trap.
        let media = (value &- base!) &* 90_000 / clock
        let utc = report.map { $0.wallClockMicros &+ (value &- $0.rtp) &* 1_000_000 / clock }
        return (media, utc)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count.isMultiple(of: 2), !characters.isEmpty else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: characters.count, by: 2) {
            guard let byte = UInt8(String(decoding: characters[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
