import EstuaryMPEGTS
import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

/// The demuxer on real clips made by ffmpeg, checked against ffprobe.
@Suite struct ClipDemuxTests {
    static let modulus = Int64(1) << 33

    /// Checks `frames` against ffprobe's packets: same count, and the same PTS, DTS and
    /// keyframe flags up to one constant multiple of 2^33 (ffprobe unwraps on its own).
    private func expectMatches(_ frames: [MediaFrame], _ probed: ProbedStream, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(frames.count == probed.frameCount, sourceLocation: sourceLocation)
        #expect(frames.count == probed.packets.count, sourceLocation: sourceLocation)
        guard let first = frames.first, let firstProbed = probed.packets.first else {
            Issue.record("no frames", sourceLocation: sourceLocation)
            return
        }
        let offset = first.dts - firstProbed.dts
        #expect(offset % Self.modulus == 0, sourceLocation: sourceLocation)
        let ours = frames.map { ProbedPacket(pts: $0.pts - offset, dts: $0.dts - offset, isKeyframe: $0.isKeyframe) }
        #expect(ours == probed.packets, sourceLocation: sourceLocation)
    }

    private func expectIncreasingDTS(_ frames: [MediaFrame], maxStep: Int64, sourceLocation: SourceLocation = #_sourceLocation) {
        for (a, b) in zip(frames, frames.dropFirst()) {
            #expect(b.dts > a.dts && b.dts - a.dts <= maxStep, "\(a.dts) → \(b.dts)", sourceLocation: sourceLocation)
        }
    }

    @Test(.enabled(if: FFmpegTool.enabled), arguments: ClipKind.allCases)
    func wholeClipMatchesFFprobe(kind: ClipKind) throws {
        let clip = try kind.load()
        let events = demux(clip.bytes)
        #expect(events.errors.isEmpty)
        let announcements = events.trackAnnouncements
        #expect(announcements.count == 1)
        let tracks = try #require(announcements.first)
        #expect(tracks.map(\.id) == [1, 2])
        // The one announcement comes before every frame.
        #expect(events.first.map { if case .tracks = $0 { true } else { false } } == true)

        switch tracks.first?.config {
        case .h264(let config) where kind != .hevc:
            #expect(config.info.width == 320 && config.info.height == 240)
            #expect(config.sps.count == 1 && config.pps.count == 1)
        case .h265(let config) where kind == .hevc:
            #expect(config.info.width == 320 && config.info.height == 240)
            #expect(config.vps.count == 1 && config.sps.count == 1 && config.pps.count == 1)
        default:
            Issue.record("unexpected video config \(String(describing: tracks.first))")
        }
        #expect(tracks.last?.config == .aac(AACConfig(objectType: 2, samplingFrequencyIndex: 3, channels: 1)))

        let video = events.frames(track: 1)
        let audio = events.frames(track: 2)
        expectMatches(video, clip.video)
        expectMatches(audio, clip.audio)
        expectIncreasingDTS(video, maxStep: 3600)
        expectIncreasingDTS(audio, maxStep: 1920)
        #expect(video.first?.isKeyframe == true)
        #expect(audio.allSatisfy { $0.isKeyframe && $0.pts == $0.dts && $0.codec == .aac })
        #expect(video.allSatisfy { $0.codec == (kind == .hevc ? .h265 : .h264) && $0.pts >= $0.dts })
    }

    @Test(.enabled(if: FFmpegTool.enabled), arguments: ClipKind.allCases)
    func videoPayloadsAreLengthPrefixedWithoutAUDOrParameterSets(kind: ClipKind) throws {
        let clip = try kind.load()
        for frame in demux(clip.bytes).frames(track: 1) {
            let units = try NALUnits.splitLengthPrefixed(frame.data)
            #expect(!units.isEmpty)
            let types = units.compactMap { kind == .hevc ? NALUnits.h265Type($0) : NALUnits.h264Type($0) }
            #expect(types.count == units.count)
            let banned: Set<UInt8> = kind == .hevc ? [32, 33, 34, 35, 38] : [7, 8, 9, 12]
            #expect(banned.isDisjoint(with: types), "NAL types \(types)")
            let keyTypes: Set<UInt8> = kind == .hevc ? Set(16...23) : [5]
            #expect(frame.isKeyframe == !keyTypes.isDisjoint(with: types))
        }
    }

    @Test(
        .enabled(if: FFmpegTool.enabled),
        arguments: [ClipKind.plain, .wrapped],
        [
            ChunkPattern.fixed(1), .fixed(187), .fixed(188), .fixed(189), .random(seed: 1, maxSize: 5000),
            .random(seed: 2, maxSize: 400),
        ])
    func splitInputGivesTheSameEvents(kind: ClipKind, pattern: ChunkPattern) throws {
        let clip = try kind.load()
        let whole = demux(clip.bytes)
        let split = demux(clip.bytes, pattern: pattern)
        #expect(split.count == whole.count)
        #expect(split == whole)
    }

    @Test(.enabled(if: FFmpegTool.enabled))
    func timestampsStayContinuousAcrossThe33BitWrap() throws {
        let clip = try ClipKind.wrapped.load()
        let events = demux(clip.bytes)
        #expect(events.errors.isEmpty)
        for track in [1, 2] {
            let frames = events.frames(track: track)
            let first = try #require(frames.first)
            let last = try #require(frames.last)
            // The clip starts before the wrap and ends after it, on one continuous timeline.
            #expect(first.dts < Self.modulus && last.dts > Self.modulus)
            // No jump anywhere, the wrap included: one frame duration per step (25 fps, 1024/48 kHz).
            expectIncreasingDTS(frames, maxStep: track == 1 ? 3600 : 1920)
            #expect(frames.allSatisfy { $0.pts >= $0.dts && $0.pts - $0.dts < 90_000 })
        }
        // Both tracks are unwrapped alike: audio and video stay within a second of each other.
        let videoEnd = try #require(events.frames(track: 1).last?.dts)
        let audioEnd = try #require(events.frames(track: 2).last?.dts)
        #expect(abs(videoEnd - audioEnd) < 90_000)
    }
}
