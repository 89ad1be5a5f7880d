import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

@testable import EstuaryRTSP

/// Seeded fuzzing of what an RTSP server (or a spoofed UDP sender) can send: responses and interleaved
/// frames, session descriptions, RTP and RTCP packets. A case passes when the parser returns or throws an
/// ``RTSPError`` (never traps) and holds bounded memory.
@Suite("RTSP fuzz")
struct RTSPFuzzTests {
    static let response =
        Array(
            "RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"abc\"\r\nContent-Length: 4\r\n\r\nbody"
                .utf8) + [0x24, 0x00, 0x00, 0x05, 0x80, 0x60, 0x00, 0x01, 0x00]
    static let sdp = """
        v=0\r
        s=x\r
        a=control:*\r
        m=video 0 RTP/AVP 96\r
        a=rtpmap:96 H264/90000\r
        a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkBQfsBEAAAAwAQAAADAyDxYuSA,aMuDyyA=\r
        a=control:trackID=0\r
        m=audio 0 RTP/AVP 97\r
        a=rtpmap:97 MPEG4-GENERIC/48000/2\r
        a=fmtp:97 mode=AAC-hbr;config=1190;sizelength=13;indexlength=3;indexdeltalength=3\r
        a=control:trackID=1\r
        """

    @Test("100,000 mutated and random server byte streams: framed or refused, buffers bounded")
    func responses() {
        var mutator = Mutator(seed: 0x5EED_0101)
        var items = 0
        for index in 0..<100_000 {
            let bytes = index % 10 == 0 ? mutator.randomBytes(upTo: 300) : mutator.mutate(Self.response)
            var framer = RTSPStreamFramer()
            do {
                for piece in mutator.split(bytes) { items += try framer.feed(piece).count }
            } catch {
                continue
            }
        }
        #expect(items > 0)
    }

    @Test("100,000 mutated session descriptions: parsed or refused; tracks built only from valid sections")
    func descriptions() {
        var mutator = Mutator(seed: 0x5EED_0102)
        let sample = Array(Self.sdp.utf8)
        var tracks = 0
        for _ in 0..<100_000 {
            let text = String(decoding: mutator.mutate(sample), as: UTF8.self)
            guard let description = try? SDPDescription(parsing: text) else { continue }
            for (index, media) in description.media.enumerated() {
                if (try? RTSPTrack(id: index + 1, media: media, controlURL: "x")) != nil { tracks += 1 }
            }
        }
        #expect(tracks > 0)
    }

    @Test("100,000 mutated RTP and RTCP packets through the depacketizers and tracks")
    func packets() throws {
        var mutator = Mutator(seed: 0x5EED_0103)
        let description = try SDPDescription(parsing: Self.sdp)
        var video = try #require(try RTSPTrack(id: 1, media: description.media[0], controlURL: "v"))
        var audio = try #require(try RTSPTrack(id: 2, media: description.media[1], controlURL: "a"))
        let samples: [[UInt8]] = [
            [0x80, 0x60, 0x00, 0x01, 0, 0, 0x0E, 0x10, 0, 0, 0, 1, 0x65, 0x88, 0x84],
            [0x80, 0x60, 0x00, 0x02, 0, 0, 0x0E, 0x10, 0, 0, 0, 1, 0x7C, 0x85, 0x01, 0x02],
            [0x80, 0xE0, 0x00, 0x03, 0, 0, 0x0E, 0x10, 0, 0, 0, 1, 0x18, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x01, 0x06],
            [0x80, 0xE1, 0x00, 0x04, 0, 0, 0x04, 0x00, 0, 0, 0, 2, 0x00, 0x20, 0x00, 0x18, 0x00, 0x10, 1, 2, 3, 4, 5],
            [0xB0, 0x60, 0x00, 0x05, 0, 0, 0x0E, 0x10, 0, 0, 0, 1, 0xBE, 0xDE, 0x00, 0x01, 1, 2, 3, 4, 0x41, 0x9A, 0x02],
        ]
        let report: [UInt8] = [0x80, 200, 0x00, 0x06, 0, 0, 0, 1, 0xE1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]
        var frames = 0
        for index in 0..<100_000 {
            let bytes = index % 10 == 0 ? mutator.randomBytes(upTo: 64) : mutator.mutate(samples[index % samples.count])
            if let report = RTCPSenderReport(ByteBuffer(bytes: mutator.mutate(report))) { video.receive(senderReport: report) }
            guard let packet = RTPPacket(ByteBuffer(bytes: bytes)) else { continue }
            if packet.payloadType == 97 {
                frames += audio.receive(packet, arrivalMicros: 0).frames.count
            } else {
                frames += video.receive(packet, arrivalMicros: 0).frames.count
            }
        }
        #expect(frames > 0)
    }

    @Test("a sender whose RTP clock leaps forward by half its range every packet gives nonsense times, never a trap")
    func hostileTimestamps() throws {
        let description = try SDPDescription(parsing: Self.sdp)
        var track = try #require(try RTSPTrack(id: 1, media: description.media[0], controlURL: "v"))
        var timestamp: UInt32 = 0
        var frames = 0
        // 80,000 leaps of 2^31 - 1 ticks unwrap to about 2^47; times 90,000 that passes Int64.
        for sequence in 0..<80_000 {
            timestamp &+= 0x7FFF_FFFF
            var bytes: [UInt8] = [0x80, 0xE0, UInt8(sequence >> 8 & 0xFF), UInt8(sequence & 0xFF)]
            bytes += [UInt8(timestamp >> 24), UInt8(timestamp >> 16 & 0xFF), UInt8(timestamp >> 8 & 0xFF), UInt8(timestamp & 0xFF)]
            bytes += [0, 0, 0, 1, 0x65, 0x88]
            frames += track.receive(try #require(RTPPacket(ByteBuffer(bytes: bytes))), arrivalMicros: 0).frames.count
        }
        #expect(frames > 70_000)
    }
}
