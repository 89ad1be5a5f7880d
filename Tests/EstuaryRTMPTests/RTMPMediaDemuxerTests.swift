import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

@testable import EstuaryRTMP

@Suite("RTMP media demuxer")
struct RTMPMediaDemuxerTests {
    func video(_ timestamp: UInt32, _ bytes: [UInt8]) -> RTMPMessage {
        RTMPMessage(typeID: 9, streamID: 1, timestamp: timestamp, payload: ByteBuffer(bytes: bytes))
    }

    func audio(_ timestamp: UInt32, _ bytes: [UInt8]) -> RTMPMessage {
        RTMPMessage(typeID: 8, streamID: 1, timestamp: timestamp, payload: ByteBuffer(bytes: bytes))
    }

    @Test("H.264 with 2-byte NAL lengths: tracks from the sequence header, AUD and in-band parameter sets removed, pts from cts")
    func h264() throws {
        var demuxer = RTMPMediaDemuxer()
        var avcC = Fixtures.h264BaselineAvcC
        avcC[4] = 0xFD  // lengthSizeMinusOne = 1
        #expect(
            demuxer.receive(video(0, [0x27, 0x01, 0, 0, 0, 0, 1, 0x41, 0x9A]), arrivalMicros: 1).isEmpty,
            "a frame before the header is dropped")
        #expect(demuxer.receive(video(0, [0x17, 0x00, 0, 0, 0] + avcC), arrivalMicros: 1).isEmpty, "tracks come with the first frame")
        // AUD (type 9), SPS, PPS, IDR slice; composition time 80 ms.
        var body: [UInt8] = [0x17, 0x01, 0x00, 0x00, 0x50]
        for unit in [[0x09, 0xF0], Fixtures.h264BaselineSPS, Fixtures.h264BaselinePPS, [0x65, 0x88, 0x84]] {
            body += [UInt8(unit.count >> 8), UInt8(unit.count & 0xFF)] + unit
        }
        let outputs = demuxer.receive(video(1_000, body), arrivalMicros: 5)
        #expect(outputs.count == 2, "tracks once, then the frame: \(outputs)")
        guard case .tracks(let tracks) = outputs.first, case .h264(let config) = tracks.first?.config, case .frame(let frame) = outputs.last
        else {
            Issue.record("no H.264 track and frame: \(outputs)")
            return
        }
        #expect(config.sps == [Fixtures.h264BaselineSPS])
        #expect(demuxer.receive(video(1_040, body), arrivalMicros: 6).count == 1, "the same parameter sets in band declare nothing new")
        #expect(frame.isKeyframe)
        #expect(frame.dts == 90_000)
        #expect(frame.pts == 90_000 + 80 * 90)
        #expect(Array(buffer: frame.data) == [0, 0, 0, 3, 0x65, 0x88, 0x84])
        let truncated = demuxer.receive(video(1_080, [0x27, 0x01, 0, 0, 0, 0x00, 0x09, 0x41]), arrivalMicros: 6)
        #expect(truncated == [.error("NAL unit length runs past the end of the video message")])
    }

    @Test("timestamps keep increasing across the 32-bit millisecond wrap")
    func wrap() throws {
        var demuxer = RTMPMediaDemuxer()
        _ = demuxer.receive(audio(0, [0xAF, 0x00] + Fixtures.aac48000Stereo), arrivalMicros: 1)
        var dts: [Int64] = []
        for timestamp: UInt32 in [0xFFFF_FF00, 0xFFFF_FFE0, 0x0000_0010] {
            if case .frame(let frame) = demuxer.receive(audio(timestamp, [0xAF, 0x01, 0x21, 0x10]), arrivalMicros: 1).last {
                dts.append(frame.dts)
            }
        }
        #expect(dts == [Int64(0xFFFF_FF00) * 90, Int64(0xFFFF_FFE0) * 90, (Int64(1) << 32 + 0x10) * 90])
    }

    @Test("AAC: the AudioSpecificConfig declares the track; raw frames follow; other sound formats are named errors")
    func aac() throws {
        var demuxer = RTMPMediaDemuxer()
        #expect(demuxer.receive(audio(0, [0xAF, 0x00] + Fixtures.aac48000Stereo), arrivalMicros: 1).isEmpty)
        let outputs = demuxer.receive(audio(23, [0xAF, 0x01, 0x21, 0x10, 0x04]), arrivalMicros: 1)
        guard case .tracks(let tracks) = outputs.first, case .aac(let config) = tracks.first?.config, case .frame(let frame) = outputs.last
        else {
            Issue.record("no AAC track and frame: \(outputs)")
            return
        }
        #expect(config.sampleRate == 48_000)
        #expect(config.channels == 2)
        #expect(frame.trackID == RTMPMediaDemuxer.audioTrackID)
        #expect(Array(buffer: frame.data) == [0x21, 0x10, 0x04])
        #expect(
            demuxer.receive(audio(46, [0x2F, 0x01, 0x00]), arrivalMicros: 1) == [.error("sound format 2 is not supported (AAC is 10)")])
    }

    @Test("frames wait for a track announced by an empty sequence header, then come out in order after both tracks are declared")
    func holdsUntilAnnouncedTracksAreConfigured() throws {
        var demuxer = RTMPMediaDemuxer()
        #expect(demuxer.receive(video(0, [0x17, 0x00, 0, 0, 0] + Fixtures.h264BaselineAvcC), arrivalMicros: 1).isEmpty)
        #expect(demuxer.receive(audio(0, [0xAF, 0x00]), arrivalMicros: 1).isEmpty, "an empty AudioSpecificConfig announces audio")
        let slice: [UInt8] = [0, 0, 0, 3, 0x65, 0x88, 0x84]
        #expect(demuxer.receive(video(0, [0x17, 0x01, 0, 0, 0] + slice), arrivalMicros: 1).isEmpty)
        #expect(demuxer.receive(video(40, [0x27, 0x01, 0, 0, 0] + slice), arrivalMicros: 1).isEmpty)
        #expect(demuxer.receive(audio(10, [0xAF, 0x00] + Fixtures.aac44100Mono), arrivalMicros: 1).isEmpty)
        let outputs = demuxer.receive(audio(20, [0xAF, 0x01, 0x21]), arrivalMicros: 1)
        guard case .tracks(let tracks) = outputs.first else {
            Issue.record("no tracks: \(outputs)")
            return
        }
        #expect(tracks.map(\.codec) == [.h264, .aac])
        let frames = outputs.compactMap { output -> MediaFrame? in
            if case .frame(let frame) = output { return frame }
            return nil
        }
        #expect(frames.map(\.dts) == [0, 20 * 90, 40 * 90])
        #expect(frames.map(\.codec) == [.h264, .aac, .h264])
    }

    @Test("a publisher that never configures an announced track gets the known tracks after the hold limit")
    func holdLimit() throws {
        var demuxer = RTMPMediaDemuxer()
        _ = demuxer.receive(video(0, [0x17, 0x00, 0, 0, 0] + Fixtures.h264BaselineAvcC), arrivalMicros: 1)
        _ = demuxer.receive(audio(0, [0xAF, 0x00]), arrivalMicros: 1)
        var released: [RTMPMediaDemuxer.Output] = []
        for index in 0...50 {
            released += demuxer.receive(video(UInt32(index * 40), [0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65]), arrivalMicros: 1)
        }
        #expect(released.count == 1 + 51, "tracks and every frame, once 2 s were held")
        #expect(released.first == .tracks(demuxer.tracks))
    }
}
