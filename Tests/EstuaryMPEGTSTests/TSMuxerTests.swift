import EstuaryMPEGTS
import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

@Suite struct TSMuxerTests {
    @Test func crcMatchesTheStandardCheckValue() {
        #expect(MPEGTSCRC32.checksum(of: Array("123456789".utf8)) == 0x0376_E6E7)
    }

    @Test func packetsAreWholeAndCountersContinuousPerPID() throws {
        let bytes = Synthetic.mux(Synthetic.interleaved(seconds: 3), tracks: [try Synthetic.videoTrack(), Synthetic.audioTrack])
        #expect(bytes.count % 188 == 0)
        let packets = RawPacket.all(in: bytes)
        #expect(packets.count == bytes.count / 188)
        #expect(Set(packets.map(\.pid)) == [0x0000, 0x1000, 0x0100, 0x0101])
        var last: [Int: Int] = [:]
        for packet in packets where packet.hasPayload {
            if let previous = last[packet.pid] {
                #expect(packet.continuityCounter == (previous + 1) & 0x0F, "PID \(packet.pid) at \(packet.offset)")
            }
            last[packet.pid] = packet.continuityCounter
        }
    }

    @Test func tablesCarryValidCRCsAndListTheStreams() throws {
        let bytes = Synthetic.mux([Synthetic.videoFrame(0)], tracks: [try Synthetic.videoTrack(), Synthetic.audioTrack])
        let packets = RawPacket.all(in: bytes)
        #expect(packets.prefix(2).map(\.pid) == [0x0000, 0x1000])
        for packet in packets.prefix(2) {
            let start = packet.offset + 5 + Int(bytes[packet.offset + 4])
            let length = Int(bytes[start + 1] & 0x0F) << 8 | Int(bytes[start + 2])
            let section = Array(bytes[start..<(start + 3 + length)])
            // A section followed by its own CRC leaves remainder 0.
            #expect(MPEGTSCRC32.checksum(of: section) == 0)
            if packet.pid == 0x1000 {
                // PCR_PID = video; streams: H.264 on 0x100, AAC on 0x101.
                #expect(Array(section[8..<10]) == [0xE1, 0x00])
                #expect(Array(section[12..<17]) == [0x1B, 0xE1, 0x00, 0xF0, 0x00])
                #expect(Array(section[17..<22]) == [0x0F, 0xE1, 0x01, 0xF0, 0x00])
            } else {
                #expect(Array(section[8..<12]) == [0x00, 0x01, 0xF0, 0x00])
            }
        }
    }

    @Test func keyframesGetTablesPCRAndRandomAccessAndPCRStaysBehindDTS() throws {
        let frames = Synthetic.interleaved(seconds: 3)
        let bytes = Synthetic.mux(frames, tracks: [try Synthetic.videoTrack(), Synthetic.audioTrack])
        let packets = RawPacket.all(in: bytes)
        let videoFrames = frames.filter { $0.trackID == 1 }
        let starts = packets.indices.filter { packets[$0].pid == 0x100 && packets[$0].unitStart }
        #expect(starts.count == videoFrames.count)
        for (frame, index) in zip(videoFrames, starts) {
            let packet = packets[index]
            let randomAccess = (packet.adaptationFlags ?? 0) & 0x40 != 0
            #expect(randomAccess == frame.isKeyframe)
            let pcr = try #require(packet.pcr, "every video PES starts with a PCR")
            #expect(pcr == mod33(frame.dts - TSMuxer.pcrDelay))
            if frame.isKeyframe {
                #expect(index >= 2 && packets[index - 2].pid == 0x0000 && packets[index - 1].pid == 0x1000)
            }
        }
        let pcrs = packets.compactMap(\.pcr)
        for (a, b) in zip(pcrs, pcrs.dropFirst()) {
            #expect(mod33(b - a) <= 9_000)
        }
        // Tables appear exactly before the 3 keyframes (the first one doubles as the start).
        #expect(packets.filter { $0.pid == 0 }.count == 1 + 3)
    }

    @Test func keyframesAreAnnexBWithAUDAndParameterSets() throws {
        let frames = [Synthetic.videoFrame(0), Synthetic.videoFrame(1)]
        let bytes = Synthetic.mux(frames, tracks: [try Synthetic.videoTrack()])
        let packets = RawPacket.all(in: bytes).filter { $0.pid == 0x100 && $0.unitStart }
        #expect(packets.count == 2)
        for (packet, frame) in zip(packets, frames) {
            let pes = packet.offset + packet.payloadOffset
            #expect(Array(bytes[pes..<(pes + 4)]) == [0, 0, 1, 0xE0])
            let headerLength = Int(bytes[pes + 8])
            #expect(headerLength == 10, "PTS and DTS differ, so both are written")
            let es = pes + 9 + headerLength
            var expected: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0]
            if frame.isKeyframe {
                expected += [0, 0, 0, 1] + Synthetic.sps320x240 + [0, 0, 0, 1] + Synthetic.pps
            }
            expected += [0, 0, 0, 1, 0x06]
            #expect(Array(bytes[es..<(es + expected.count)]) == expected)
        }
    }

    @Test func audioOnlyStreamsRepeatTablesAndMarkRandomAccess() throws {
        let frames = (0..<150).map { Synthetic.audioFrame($0) }
        let bytes = Synthetic.mux(frames, tracks: [Synthetic.audioTrack])
        let packets = RawPacket.all(in: bytes)
        // Tables at the start, then every 90 000 ticks of audio: before frames 47, 94 and 141.
        #expect(packets.filter { $0.pid == 0 }.count == 4)
        let starts = packets.filter { $0.pid == 0x101 && $0.unitStart }
        #expect(starts.count == 150)
        #expect(starts.allSatisfy { ($0.adaptationFlags ?? 0) & 0x50 == 0x50 })
        let events = demux(bytes)
        #expect(events.errors.isEmpty)
        #expect(events.trackAnnouncements == [[Synthetic.audioTrack]])
        #expect(events.frames == frames)
    }

    @Test func sparseVideoStillGetsAPCREvery100Milliseconds() throws {
        // One video frame a second; audio fills in PCR-only packets on the video PID.
        let video = (0..<4).map { Synthetic.videoFrame($0 * 25) }
        let audio = (0..<180).map { Synthetic.audioFrame($0) }
        let frames = (video + audio).sorted { ($0.dts, $0.trackID) < ($1.dts, $1.trackID) }
        let bytes = Synthetic.mux(frames, tracks: [try Synthetic.videoTrack(), Synthetic.audioTrack])
        let packets = RawPacket.all(in: bytes)
        let pcrs = packets.compactMap(\.pcr)
        #expect(packets.filter { $0.pcr != nil }.allSatisfy { $0.pid == 0x100 })
        #expect(packets.contains { $0.pcr != nil && !$0.hasPayload })
        for (a, b) in zip(pcrs, pcrs.dropFirst()) {
            #expect(mod33(b - a) <= 9_000)
        }
        let events = demux(bytes)
        #expect(events.errors.isEmpty)
        #expect(events.frames == frames)
    }

    @Test(arguments: [Int64(0), (Int64(1) << 33) - 90_000 * 2])
    func roundTripsThroughTheDemuxer(base: Int64) throws {
        let tracks = [try Synthetic.videoTrack(), Synthetic.audioTrack]
        let frames = Synthetic.interleaved(seconds: 4, base: base)
        let bytes = Synthetic.mux(frames, tracks: tracks)
        for pattern in [ChunkPattern.whole, .fixed(1), .fixed(189)] {
            let events = demux(bytes, pattern: pattern)
            #expect(events.errors.isEmpty, "\(pattern)")
            #expect(events.trackAnnouncements == [tracks], "\(pattern)")
            #expect(events.frames == frames, "\(pattern)")
        }
    }

    @Test func framesLargerThanAPESLengthUseLengthZero() throws {
        let frames = [Synthetic.videoFrame(0, size: 200_000), Synthetic.videoFrame(1, size: 70_000), Synthetic.videoFrame(2)]
        let bytes = Synthetic.mux(frames, tracks: [try Synthetic.videoTrack()])
        let starts = RawPacket.all(in: bytes).filter { $0.pid == 0x100 && $0.unitStart }
        let lengths = starts.map { Int(bytes[$0.offset + $0.payloadOffset + 4]) << 8 | Int(bytes[$0.offset + $0.payloadOffset + 5]) }
        #expect(lengths[0] == 0 && lengths[1] == 0 && lengths[2] > 0)
        let events = demux(bytes, pattern: .fixed(1000))
        #expect(events.errors.isEmpty)
        #expect(events.frames == frames)
    }

    @Test func framesOfUnknownTracksAreIgnored() throws {
        let bytes = Synthetic.mux([Synthetic.audioFrame(0)], tracks: [try Synthetic.videoTrack()])
        #expect(RawPacket.all(in: bytes).map(\.pid) == [0x0000, 0x1000])
    }

    @Test func changedParameterSetsAreAnnouncedBeforeTheirKeyframe() throws {
        let first = try Synthetic.videoTrack()
        let second = try Synthetic.videoTrack(sps: Synthetic.sps640x360)
        var muxer = TSMuxer(tracks: [first])
        var out = ByteBuffer()
        let frames = (0..<50).map { Synthetic.videoFrame($0) }
        for frame in frames.prefix(25) { muxer.write(frame, into: &out) }
        muxer.setTracks([second])
        for frame in frames.suffix(25) { muxer.write(frame, into: &out) }
        let events = demux(Array(out.readableBytesView))
        #expect(events.errors.isEmpty)
        #expect(events.trackAnnouncements == [[first], [second]])
        #expect(events.frames == frames)
        // The second announcement comes right before frame 25.
        let index = try #require(events.firstIndex(of: .tracks([second])))
        #expect(events[index + 1] == .frame(frames[25]))
        guard case .h264(let config) = second.config else { return }
        #expect(config.info.width == 640 && config.info.height == 360)
    }
}

/// `value` modulo 2^33, as a PTS/DTS/PCR field holds it.
func mod33(_ value: Int64) -> Int64 {
    value & ((Int64(1) << 33) - 1)
}
