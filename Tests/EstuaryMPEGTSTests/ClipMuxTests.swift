import EstuaryMPEGTS
import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

/// The muxer on real clips: demux → mux → demux is lossless, and ffprobe reads the result.
@Suite struct ClipMuxTests {
    private func remux(_ events: [TSDemuxer.Event]) throws -> [UInt8] {
        let tracks = try #require(events.trackAnnouncements.last)
        var muxer = TSMuxer(tracks: tracks)
        var out = ByteBuffer()
        muxer.writeTables(into: &out)
        for frame in events.frames { muxer.write(frame, into: &out) }
        return Array(out.readableBytesView)
    }

    @Test(.enabled(if: FFmpegTool.enabled), arguments: ClipKind.allCases)
    func demuxMuxDemuxKeepsFramesAndConfigs(kind: ClipKind) throws {
        let clip = try kind.load()
        let first = demux(clip.bytes)
        let muxed = try remux(first)
        #expect(muxed.count % 188 == 0)
        let second = demux(muxed, pattern: .random(seed: 5, maxSize: 4000))
        #expect(second.errors.isEmpty)
        #expect(second.trackAnnouncements == first.trackAnnouncements)
        #expect(second.frames.count == first.frames.count)
        #expect(second.frames == first.frames)
    }

    @Test(.enabled(if: FFmpegTool.enabled), arguments: ClipKind.allCases)
    func ffprobeReadsTheMuxersOutput(kind: ClipKind) throws {
        let clip = try kind.load()
        let muxed = try remux(demux(clip.bytes))
        let streams = try Probe.streams(of: muxed)
        let video = try #require(streams.first { $0.codecType == "video" })
        let audio = try #require(streams.first { $0.codecType == "audio" })
        #expect(video.codecName == (kind == .hevc ? "hevc" : "h264"))
        #expect(video.width == 320 && video.height == 240)
        #expect(video.frameCount == clip.video.frameCount)
        #expect(audio.codecName == "aac")
        #expect(audio.frameCount == clip.audio.frameCount)
        // Same timestamps and keyframes as the source, as ffprobe sees them.
        #expect(video.packets == clip.video.packets)
        #expect(audio.packets == clip.audio.packets)
    }
}
