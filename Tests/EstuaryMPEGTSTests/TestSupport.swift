import EstuaryMPEGTS
import EstuaryMedia
import EstuaryTestSupport
import NIOCore

/// Demuxes `bytes` fed as `pattern` says, then flushes; returns every event in order.
func demux(
    _ bytes: [UInt8], pattern: ChunkPattern = .whole, wallClockMicros: Int64 = 0,
    demuxer: TSDemuxer = TSDemuxer()
) -> [TSDemuxer.Event] {
    var demuxer = demuxer
    var events = pattern.chunks(of: bytes).flatMap { demuxer.feed($0, wallClockMicros: wallClockMicros) }
    events += demuxer.flush()
    return events
}

extension Array where Element == TSDemuxer.Event {
    var frames: [MediaFrame] {
        compactMap { if case .frame(let frame) = $0 { frame } else { nil } }
    }

    var errors: [TSDemuxError] {
        compactMap { if case .error(let error) = $0 { error } else { nil } }
    }

    var trackAnnouncements: [[TrackInfo]] {
        compactMap { if case .tracks(let tracks) = $0 { tracks } else { nil } }
    }

    func frames(track: Int) -> [MediaFrame] {
        frames.filter { $0.trackID == track }
    }

    /// The frames after the first error event.
    var framesAfterFirstError: [MediaFrame] {
        guard let index = firstIndex(where: { if case .error = $0 { true } else { false } }) else { return [] }
        return self[(index + 1)...].frames
    }

    /// The frames before the first error event.
    var framesBeforeFirstError: [MediaFrame] {
        let end = firstIndex(where: { if case .error = $0 { true } else { false } }) ?? count
        return self[..<end].frames
    }
}

extension ArraySlice where Element == TSDemuxer.Event {
    var frames: [MediaFrame] {
        compactMap { if case .frame(let frame) = $0 { frame } else { nil } }
    }
}

/// One 188-byte packet's header fields, read straight from bytes.
struct RawPacket {
    var offset: Int
    var pid: Int
    var unitStart: Bool
    var continuityCounter: Int
    var hasPayload: Bool
    /// Offset of the payload within the packet.
    var payloadOffset: Int
    var adaptationFlags: UInt8?
    var pcr: Int64?

    /// Reads every aligned packet of a clean stream.
    static func all(in bytes: [UInt8]) -> [RawPacket] {
        stride(from: 0, to: bytes.count - 187, by: 188).compactMap { offset in
            guard bytes[offset] == 0x47 else { return nil }
            let pid = Int(bytes[offset + 1] & 0x1F) << 8 | Int(bytes[offset + 2])
            let control = bytes[offset + 3]
            var payloadOffset = 4
            var flags: UInt8?
            var pcr: Int64?
            if control & 0x20 != 0 {
                let length = Int(bytes[offset + 4])
                payloadOffset = 5 + length
                if length > 0 {
                    flags = bytes[offset + 5]
                    if bytes[offset + 5] & 0x10 != 0, length >= 7 {
                        let high = (6..<10).reduce(Int64(0)) { $0 << 8 | Int64(bytes[offset + $1]) }
                        pcr = high << 1 | Int64(bytes[offset + 10] >> 7)
                    }
                }
            }
            return RawPacket(
                offset: offset, pid: pid, unitStart: bytes[offset + 1] & 0x40 != 0,
                continuityCounter: Int(control & 0x0F), hasPayload: control & 0x10 != 0,
                payloadOffset: payloadOffset, adaptationFlags: flags, pcr: pcr)
        }
    }
}

/// Frames with real SPS/PPS (from x264) and synthetic slice bytes, for tests without ffmpeg.
enum Synthetic {
    /// x264's SPS for 320x240 High profile, level 1.3.
    static let sps320x240: [UInt8] = [
        0x67, 0x64, 0x00, 0x0D, 0xAC, 0xD9, 0x41, 0x41, 0xFB, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00,
        0x03, 0x03, 0x20, 0xF1, 0x42, 0x99, 0x60,
    ]
    /// x264's SPS for 640x360 High profile, level 3.0.
    static let sps640x360: [UInt8] = [
        0x67, 0x64, 0x00, 0x1E, 0xAC, 0xD9, 0x40, 0xA0, 0x2F, 0xF9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00,
        0x00, 0x03, 0x00, 0x32, 0x0F, 0x16, 0x2D, 0x96,
    ]
    /// x264's PPS.
    static let pps: [UInt8] = [0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0]

    static func videoTrack(sps: [UInt8] = sps320x240) throws -> TrackInfo {
        TrackInfo(id: 1, config: .h264(try H264Config(sps: [sps], pps: [pps])))
    }

    static let audioTrack = TrackInfo(
        id: 2, config: .aac(AACConfig(objectType: 2, samplingFrequencyIndex: 3, channels: 2)))

    /// Bytes with no zero byte, so no start code can appear inside a NAL unit.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 1...255, using: &generator) }
    }

    /// Video frame `index` at 25 fps from `base`: a keyframe every 25 frames, PTS two frames
    /// after DTS, an SEI-like and a slice NAL unit of `size` bytes.
    static func videoFrame(_ index: Int, base: Int64 = 0, size: Int = 3000, keyframeInterval: Int = 25) -> MediaFrame {
        let isKeyframe = index % keyframeInterval == 0
        let slice = [isKeyframe ? 0x65 : 0x41] + bytes(size, seed: UInt64(index) + 1)
        let sei: [UInt8] = [0x06, 0x05, 0x02, 0x11, 0x22, 0x80]
        let units = [ByteBuffer(bytes: sei), ByteBuffer(bytes: slice)]
        let dts = base + Int64(index) * 3600
        return MediaFrame(
            trackID: 1, codec: .h264, dts: dts, pts: dts + 7200, isKeyframe: isKeyframe,
            data: NALUnits.lengthPrefixed(units), wallClockMicros: 0)
    }

    /// AAC frame `index` at 48 kHz (1920 ticks each) from `base`.
    static func audioFrame(_ index: Int, base: Int64 = 0) -> MediaFrame {
        let dts = base + Int64(index) * 1920
        return MediaFrame(
            trackID: 2, codec: .aac, dts: dts, pts: dts, isKeyframe: true,
            data: ByteBuffer(bytes: bytes(200 + index % 50, seed: 10_000 + UInt64(index))), wallClockMicros: 0)
    }

    /// `seconds` of interleaved video and audio frames in DTS order.
    static func interleaved(seconds: Int, base: Int64 = 0) -> [MediaFrame] {
        let video = (0..<(seconds * 25)).map { videoFrame($0, base: base) }
        let audio = (0..<(seconds * 25 * 3600 / 1920)).map { audioFrame($0, base: base) }
        return (video + audio).sorted { ($0.dts, $0.trackID) < ($1.dts, $1.trackID) }
    }

    /// Muxes `frames` for `tracks` (tables first) into bytes.
    static func mux(_ frames: [MediaFrame], tracks: [TrackInfo]) -> [UInt8] {
        muxWithOffsets(frames, tracks: tracks).bytes
    }

    /// Muxes `frames` for `tracks` (tables first); also returns where each frame's output begins.
    static func muxWithOffsets(_ frames: [MediaFrame], tracks: [TrackInfo]) -> (bytes: [UInt8], offsets: [Int]) {
        var muxer = TSMuxer(tracks: tracks)
        var out = ByteBuffer()
        muxer.writeTables(into: &out)
        var offsets: [Int] = []
        for frame in frames {
            offsets.append(out.writerIndex)
            muxer.write(frame, into: &out)
        }
        return (Array(out.readableBytesView), offsets)
    }
}

/// `frame` with its wall clock set to `micros`, for comparisons that ignore arrival time.
func withWallClock(_ frame: MediaFrame, _ micros: Int64) -> MediaFrame {
    var copy = frame
    copy.wallClockMicros = micros
    return copy
}
