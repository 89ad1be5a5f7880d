import EstuaryMP4
import EstuaryMedia
import EstuaryTestSupport
import Foundation
import NIOCore
import Testing

/// Real, decodable samples written with our writers must read back in ffprobe.
@Suite struct M4FFFprobeTests {
    struct Probe: Decodable {
        struct Stream: Decodable {
            var codecName: String
            var codecType: String
            var width: Int?
            var height: Int?
            var sampleRate: String?
            var channels: Int?
            var readFrames: String?

            enum CodingKeys: String, CodingKey {
                case codecName = "codec_name"
                case codecType = "codec_type"
                case width, height, channels
                case sampleRate = "sample_rate"
                case readFrames = "nb_read_frames"
            }
        }
        var streams: [Stream]
    }

    struct AccessUnit {
        var data: ByteBuffer
        var isKeyframe: Bool
    }

    /// Splits an Annex B stream whose access units each begin with an AUD into length-prefixed
    /// access units without AUD, SPS or PPS; returns them and the first SPS and PPS.
    static func accessUnits(_ annexB: ByteBuffer) -> (units: [AccessUnit], sps: [UInt8]?, pps: [UInt8]?) {
        var units: [AccessUnit] = []
        var current: [ByteBuffer] = []
        var sps: [UInt8]?
        var pps: [UInt8]?
        func close() {
            guard !current.isEmpty else { return }
            let isKeyframe = current.contains { NALUnits.h264Type($0) == H264NALType.idr }
            units.append(AccessUnit(data: NALUnits.lengthPrefixed(current), isKeyframe: isKeyframe))
            current = []
        }
        for unit in NALUnits.splitAnnexB(annexB) {
            switch NALUnits.h264Type(unit) {
            case H264NALType.accessUnitDelimiter: close()
            case H264NALType.sps: sps = sps ?? Array(unit.readableBytesView)
            case H264NALType.pps: pps = pps ?? Array(unit.readableBytesView)
            default: current.append(unit)
            }
        }
        close()
        return (units, sps, pps)
    }

    /// Splits an ADTS stream into raw AAC frames; returns them and the first header.
    static func adtsFrames(_ adts: ByteBuffer) throws -> (frames: [ByteBuffer], header: ADTSHeader?) {
        var reader = adts
        var frames: [ByteBuffer] = []
        var first: ADTSHeader?
        while reader.readableBytes > 0 {
            let header = try ADTSHeader(parsing: reader)
            first = first ?? header
            guard let frame = reader.readSlice(length: header.frameLength) else { break }
            frames.append(frame.getSlice(at: frame.readerIndex + header.headerLength, length: header.frameLength - header.headerLength)!)
        }
        return (frames, first)
    }

    @Test(.enabled(if: FFmpegTool.enabled))
    func aWrittenFileOfRealH264AndAACReadsBackInFFprobe() throws {
        let directory = try makeTemporaryDirectory(prefix: "estuary-mp4")
        defer { try? FileManager.default.removeItem(at: directory) }
        let h264 = directory.appendingPathComponent("clip.h264")
        let aac = directory.appendingPathComponent("clip.aac")
        let output = directory.appendingPathComponent("clip.mp4")
        _ = try FFmpegTool.run(
            "ffmpeg",
            [
                "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2", "-c:v", "libx264", "-bf", "0",
                "-g", "25", "-x264-params", "aud=1", "-bsf:v", "h264_mp4toannexb", "-f", "h264", h264.path,
            ])
        _ = try FFmpegTool.run(
            "ffmpeg",
            [
                "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2", "-c:a", "aac", "-ac", "1",
                "-f", "adts", aac.path,
            ])
        let (units, sps, pps) = Self.accessUnits(ByteBuffer(bytes: try Data(contentsOf: h264)))
        let (audioFrames, adts) = try Self.adtsFrames(ByteBuffer(bytes: try Data(contentsOf: aac)))
        #expect(units.count == 50)
        #expect(units.map(\.isKeyframe) == (0..<50).map { $0 % 25 == 0 })
        let audioConfig = try #require(adts?.config)
        #expect(audioConfig.sampleRate == 48_000 && audioConfig.channels == 1)
        let tracks = [
            TrackInfo(id: 1, config: .h264(try H264Config(sps: [try #require(sps)], pps: [try #require(pps)]))),
            TrackInfo(id: 2, config: .aac(audioConfig)),
        ]
        guard case .h264(let videoConfig) = tracks[0].config else { return }
        #expect(videoConfig.info.width == 320 && videoConfig.info.height == 240)

        // 200 ms fragments (5 frames), a segment at each keyframe, audio up to each fragment's end.
        var bytes = InitSegmentWriter.write(tracks: tracks)
        var writer = FragmentWriter()
        var nextAudio = 0
        let audioDuration = audioConfig.frameDuration90k
        for first in stride(from: 0, to: units.count, by: 5) {
            let video = units[first..<min(first + 5, units.count)]
            let start = Int64(first) * 3_600
            let end = start + Int64(video.count) * 3_600
            var audio: [FragmentSample] = []
            let audioStart = Int64(nextAudio) * audioDuration
            while nextAudio < audioFrames.count, Int64(nextAudio) * audioDuration < end || first + 5 >= units.count {
                audio.append(
                    FragmentSample(duration: UInt32(audioDuration), compositionOffset: 0, isKeyframe: true, data: audioFrames[nextAudio]))
                nextAudio += 1
            }
            var fragmentTracks = [
                TrackFragment(
                    trackID: 1, baseDecodeTime: start,
                    samples: video.map { FragmentSample(duration: 3_600, compositionOffset: 0, isKeyframe: $0.isKeyframe, data: $0.data) })
            ]
            if !audio.isEmpty { fragmentTracks.append(TrackFragment(trackID: 2, baseDecodeTime: audioStart, samples: audio)) }
            writer.write(
                FragmentContent(
                    startsSegment: video.first!.isKeyframe, wallClockMicros: 1_700_000_000_000_000 + start * 100 / 9, referenceTrackID: 1,
                    referenceDecodeTime: start, tracks: fragmentTracks), into: &bytes)
        }
        #expect(nextAudio == audioFrames.count)
        try Data(bytes.readableBytesView).write(to: output)

        let json = try FFmpegTool.run(
            "ffprobe",
            [
                "-v", "error", "-count_frames", "-show_entries",
                "stream=codec_name,codec_type,width,height,sample_rate,channels,nb_read_frames", "-of", "json", output.path,
            ])
        let probe = try JSONDecoder().decode(Probe.self, from: json)
        #expect(probe.streams.count == 2)
        let videoStream = try #require(probe.streams.first { $0.codecType == "video" })
        #expect(videoStream.codecName == "h264")
        #expect(videoStream.width == 320)
        #expect(videoStream.height == 240)
        #expect(videoStream.readFrames == "50")
        let audioStream = try #require(probe.streams.first { $0.codecType == "audio" })
        #expect(audioStream.codecName == "aac")
        #expect(audioStream.sampleRate == "48000")
        #expect(audioStream.channels == 1)
        #expect(audioStream.readFrames == "\(audioFrames.count)")

        // Our own reader gets every sample back.
        let events = read(Array(bytes.readableBytesView))
        let frames = events.compactMap(\.fragment).flatMap(\.frames)
        #expect(events.count == 11)
        #expect(frames.filter { $0.trackID == 1 }.map(\.data) == units.map(\.data))
        #expect(frames.filter { $0.trackID == 2 }.map(\.data) == audioFrames)
    }
}
