import EstuaryMedia
import EstuaryTestSupport
import Foundation
import NIOCore
import Testing

@testable import EstuaryRTSP

@Suite("RTSP protocol")
struct RTSPProtocolTests {
    static let spropParameterSets = [Fixtures.h264BaselineSPS, Fixtures.h264BaselinePPS].map { Data($0).base64EncodedString() }.joined(
        separator: ",")

    static func rtp(_ sequence: UInt16, _ timestamp: UInt32, marker: Bool = false, payloadType: UInt8 = 96, _ payload: [UInt8]) -> RTPPacket
    {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(0x80))
        buffer.writeInteger(payloadType | (marker ? 0x80 : 0))
        buffer.writeInteger(sequence)
        buffer.writeInteger(timestamp)
        buffer.writeInteger(UInt32(0x1234))
        buffer.writeBytes(payload)
        return RTPPacket(buffer)!
    }

    @Test("responses and interleaved frames are split apart whatever the byte split; oversized headers are refused")
    func framer() throws {
        var wire = ByteBuffer()
        wire.writeString("RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n")
        wire.writeBytes([0x24, 0x00, 0x00, 0x03, 0xAA, 0xBB, 0xCC])
        wire.writeString("GET_PARAMETER rtsp://x/ RTSP/1.0\r\nCSeq: 9\r\n\r\n")
        wire.writeBytes([0x24, 0x01, 0x00, 0x01, 0xDD])
        var generator = SeededGenerator(seed: 3)
        for _ in 0..<30 {
            var framer = RTSPStreamFramer()
            var items: [RTSPStreamFramer.Item] = []
            var rest = wire
            while rest.readableBytes > 0 {
                items += try framer.feed(rest.readSlice(length: min(rest.readableBytes, Int.random(in: 1...40, using: &generator)))!)
            }
            guard items.count == 4, case .response(let response) = items[0] else {
                Issue.record("items: \(items)")
                return
            }
            #expect(response.code == 200 && response.cseq == 2 && String(buffer: response.body) == "v=0\r\n")
            #expect(response[header: "content-type"] == "application/sdp")
            #expect(items[1] == .interleaved(channel: 0, payload: ByteBuffer(bytes: [0xAA, 0xBB, 0xCC])))
            #expect(items[2] == .serverRequest(method: "GET_PARAMETER", cseq: "9"))
            #expect(items[3] == .interleaved(channel: 1, payload: ByteBuffer(bytes: [0xDD])))
        }
        #expect(throws: RTSPError.self) {
            var framer = RTSPStreamFramer()
            _ = try framer.feed(ByteBuffer(repeating: UInt8(ascii: "a"), count: 70_000))
        }
        #expect(throws: RTSPError.malformedResponse("status line 'RTSP/1.0 abc'")) {
            var bad = RTSPStreamFramer()
            _ = try bad.feed(ByteBuffer(string: "RTSP/1.0 abc\r\n\r\n"))
        }
    }

    @Test("Digest answers match RFC 2617's worked example and an independent MD5 computation; Basic is the fallback")
    func digest() throws {
        var rfc = RTSPAuthenticator(user: "Mufasa", password: "Circle Of Life")
        let acceptedRFC = rfc.accept(challenges: [
            #"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#
        ])
        #expect(acceptedRFC)
        let rfcAnswer = rfc.authorization(method: "GET", uri: "/dir/index.html", cnonce: "0a4f113b")
        let header = try #require(rfcAnswer)
        #expect(header.contains(#"response="6629fae49393a05397450978507c4ef1""#), "\(header)")
        #expect(header.contains("nc=00000001") && header.contains(#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#))

        var camera = RTSPAuthenticator(user: "admin", password: "secret")
        let acceptedCamera = camera.accept(challenges: [#"Basic realm="IP Camera""#, #"Digest realm="IP Camera", nonce="abc123nonce""#])
        #expect(acceptedCamera)
        let cameraAnswer = camera.authorization(method: "DESCRIBE", uri: "rtsp://10.0.0.5/stream1")
        let answer = try #require(cameraAnswer)
        #expect(answer.hasPrefix("Digest ") && answer.contains(#"response="1bde35c7dca4691027e19db4bf22a9f8""#), "\(answer)")
        #expect(!answer.contains("secret"))

        var basic = RTSPAuthenticator(user: "admin", password: "secret")
        let acceptedBasic = basic.accept(challenges: [#"Basic realm="cam""#])
        #expect(acceptedBasic)
        let basicAnswer = basic.authorization(method: "OPTIONS", uri: "rtsp://h/")
        #expect(basicAnswer == "Basic YWRtaW46c2VjcmV0")
        var none = RTSPAuthenticator(user: "a", password: "b")
        let acceptedSHA = none.accept(challenges: [#"Digest realm="x", nonce="y", algorithm=SHA-256"#])
        #expect(!acceptedSHA)
    }

    @Test("an SDP like GStreamer's yields H.264 and AAC sections with their parameters and controls")
    func sdp() throws {
        let text = """
            v=0\r
            o=- 1 1 IN IP4 127.0.0.1\r
            s=Session\r
            t=0 0\r
            a=control:rtsp://127.0.0.1:8554/cam\r
            m=video 0 RTP/AVP 96\r
            a=rtpmap:96 H264/90000\r
            a=fmtp:96 packetization-mode=1;sprop-parameter-sets=\(Self.spropParameterSets);profile-level-id=42C01E\r
            a=control:stream=0\r
            m=audio 0 RTP/AVP 97\r
            a=rtpmap:97 MPEG4-GENERIC/44100/1\r
            a=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;config=1208;sizelength=13;indexlength=3;indexdeltalength=3\r
            a=control:stream=1\r
            m=application 0 RTP/AVP 107\r
            a=rtpmap:107 vnd.onvif.metadata/90000\r
            """
        let description = try SDPDescription(parsing: text)
        #expect(description.media.map(\.encoding) == ["H264", "MPEG4-GENERIC", "VND.ONVIF.METADATA"])
        #expect(description.media[1].clockRate == 44_100 && description.media[1].channels == 1)
        #expect(description.media[1].format["sizelength"] == "13")
        let base = SDPDescription.resolve(description.control, base: "rtsp://127.0.0.1:8554/cam/")
        #expect(SDPDescription.resolve(description.media[0].control, base: base) == "rtsp://127.0.0.1:8554/cam/stream=0")
        let video = try #require(try RTSPTrack(id: 1, media: description.media[0], controlURL: "v"))
        guard case .h264(let config) = video.config else {
            Issue.record("no H.264 configuration from sprop-parameter-sets")
            return
        }
        #expect(config.sps == [Fixtures.h264BaselineSPS] && config.pps == [Fixtures.h264BaselinePPS])
        #expect(try RTSPTrack(id: 3, media: description.media[2], controlURL: "m") == nil, "metadata is not played")
        #expect(throws: RTSPError.malformedSDP("no media section")) { try SDPDescription(parsing: "v=0\r\n") }
    }

    @Test("H.264: single NAL, STAP-A and FU-A rebuild access units; a lost packet marks the unit damaged")
    func h264Depacketizer() {
        var depacketizer = NALDepacketizer(codec: .h264)
        #expect(depacketizer.push(Self.rtp(1, 3_000, [0x67, 0x42])).isEmpty)
        // STAP-A with a PPS and an SEI, then an IDR in three FU-A fragments; the marker ends the unit.
        #expect(depacketizer.push(Self.rtp(2, 3_000, [0x18, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x01, 0x06])).isEmpty)
        #expect(depacketizer.push(Self.rtp(3, 3_000, [0x7C, 0x85, 0x01, 0x02])).isEmpty)
        #expect(depacketizer.push(Self.rtp(4, 3_000, [0x7C, 0x05, 0x03])).isEmpty)
        let units = depacketizer.push(Self.rtp(5, 3_000, marker: true, [0x7C, 0x45, 0x04]))
        #expect(units.count == 1)
        #expect(units.first?.units.map { Array(buffer: $0) } == [[0x67, 0x42], [0x68, 0xCE], [0x06], [0x65, 0x01, 0x02, 0x03, 0x04]])
        #expect(units.first?.damaged == false)
        // Packet 7 is lost: the unit at 6_000 comes out damaged when the timestamp moves on.
        _ = depacketizer.push(Self.rtp(6, 6_000, [0x7C, 0x81, 0x01]))
        #expect(depacketizer.push(Self.rtp(8, 6_000, marker: true, [0x7C, 0x41, 0x02])).first?.damaged == true)
        let next = depacketizer.push(Self.rtp(9, 9_000, marker: true, [0x41, 0x9A]))
        #expect(next.first?.damaged == false && next.first?.timestamp == 9_000)
    }

    @Test("H.265: AP and FU rebuild NAL units with their two-byte headers")
    func h265Depacketizer() {
        var depacketizer = NALDepacketizer(codec: .h265)
        // AP (type 48) with VPS (32) and SPS (33); then an IDR_W_RADL (19) in two FUs (type 49).
        _ = depacketizer.push(Self.rtp(1, 10, [0x60, 0x01, 0x00, 0x02, 0x40, 0x01, 0x00, 0x02, 0x42, 0x01]))
        _ = depacketizer.push(Self.rtp(2, 10, [0x62, 0x01, 0x93, 0xAA]))
        let units = depacketizer.push(Self.rtp(3, 10, marker: true, [0x62, 0x01, 0x53, 0xBB]))
        #expect(units.first?.units.map { Array(buffer: $0) } == [[0x40, 0x01], [0x42, 0x01], [0x26, 0x01, 0xAA, 0xBB]])
    }

    @Test("AAC-hbr: several access units per packet, each with its own timestamp; inconsistent headers are damage")
    func aacDepacketizer() {
        var depacketizer = AACDepacketizer(format: ["sizelength": "13", "indexlength": "3", "indexdeltalength": "3"])
        // Two AU headers (32 bits): sizes 3 and 2.
        let frames = depacketizer.push(
            Self.rtp(1, 1_000, marker: true, payloadType: 97, [0x00, 0x20, 0x00, 0x18, 0x00, 0x10, 1, 2, 3, 4, 5]))
        #expect(frames?.map { Array(buffer: $0.data) } == [[1, 2, 3], [4, 5]])
        #expect(frames?.map(\.timestamp) == [1_000, 2_024])
        #expect(depacketizer.push(Self.rtp(2, 3_048, marker: true, payloadType: 97, [0x00, 0x20, 0x00, 0x18, 0x00, 0x10, 1, 2])) == nil)
    }

    @Test("video timestamps: reordered pictures keep dts increasing and below pts; the RTP clock wraps without a jump")
    func trackTimestamps() throws {
        let media = SDPDescription.Media(
            kind: "video", payloadType: 96, encoding: "H264", clockRate: 90_000, channels: nil,
            format: ["sprop-parameter-sets": Self.spropParameterSets], control: nil)
        var track = try #require(try RTSPTrack(id: 1, media: media, controlURL: "v"))
        track.setStart(rtpTime: 0xFFFF_F000)
        var frames: [MediaFrame] = []
        // Presentation order I P B B P with 3600-tick frames, sent in decode order: I(0) P(3) B(1) B(2) P(6).
        let order: [(Int64, UInt8)] = [(0, 0x65), (3, 0x41), (1, 0x41), (2, 0x41), (6, 0x41), (4, 0x41), (5, 0x41)]
        for (sequence, (slot, nal)) in order.enumerated() {
            let timestamp = UInt32(truncatingIfNeeded: Int64(0xFFFF_F000) + slot * 3_600)
            frames += track.receive(Self.rtp(UInt16(sequence), timestamp, marker: true, [nal, 0x88]), arrivalMicros: 1).frames
        }
        #expect(frames.count == 7 - RTSPTrack.reorderLookahead, "decode times look ahead")
        #expect(frames.map(\.pts) == order.prefix(frames.count).map { $0.0 * 3_600 }, "pts follow the RTP clock across its wrap")
        #expect(frames.map(\.dts) == [-3_600, 0, 3_600], "one frame of reordering measured")
        for pair in zip(frames, frames.dropFirst()) { #expect(pair.1.dts > pair.0.dts) }
        for frame in frames { #expect(frame.dts <= frame.pts) }
        #expect(frames[0].isKeyframe && !frames[1].isKeyframe)
    }
}
