import EstuaryMPEGTS
import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

/// Demuxer behavior on streams the muxer makes (no ffmpeg needed).
@Suite struct TSDemuxerTests {
    private func stream(seconds: Int = 3) throws -> (tracks: [TrackInfo], frames: [MediaFrame], bytes: [UInt8]) {
        let tracks = [try Synthetic.videoTrack(), Synthetic.audioTrack]
        let frames = Synthetic.interleaved(seconds: seconds)
        return (tracks, frames, Synthetic.mux(frames, tracks: tracks))
    }

    @Test(arguments: [
        ChunkPattern.fixed(1), .fixed(187), .fixed(188), .fixed(189), .random(seed: 7, maxSize: 700),
    ])
    func eventsDoNotDependOnHowTheInputIsSplit(pattern: ChunkPattern) throws {
        let (_, _, bytes) = try stream()
        #expect(demux(bytes, pattern: pattern) == demux(bytes))
    }

    /// A UDP receive buffer is reused by the next receive only if nobody holds it: after each datagram-sized feed
    /// the demuxer must have let go of the caller's buffer, and what it emits must not change.
    @Test(arguments: [7 * MPEGTS.packetSize, 1000, 187])
    func aFedDatagramIsNotHeldAfterTheFeed(size: Int) throws {
        let (_, _, stream) = try stream()
        // Leading garbage too: the demuxer searches for sync first.
        let bytes = [UInt8](repeating: 0x5A, count: 300) + stream
        var demuxer = TSDemuxer()
        var events: [TSDemuxer.Event] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + size, bytes.count)
            var datagram = ByteBuffer(bytes: bytes[offset..<end])
            events += demuxer.feed(datagram, wallClockMicros: 0)
            #expect(datagram.modifyIfUniquelyOwned { _ in true } == true, "datagram at \(offset) still held")
            offset = end
        }
        events += demuxer.flush()
        #expect(events == demux(bytes))
    }

    @Test func framesCarryTheWallClockOfTheChunkTheirFirstPacketArrivedIn() throws {
        let tracks = [try Synthetic.videoTrack(), Synthetic.audioTrack]
        let frames = Synthetic.interleaved(seconds: 2)
        var muxer = TSMuxer(tracks: tracks)
        var demuxer = TSDemuxer()
        var events: [TSDemuxer.Event] = []
        for (index, frame) in frames.enumerated() {
            var out = ByteBuffer()
            muxer.write(frame, into: &out)
            events += demuxer.feed(out, wallClockMicros: Int64(index) * 1_000)
        }
        events += demuxer.flush()
        #expect(events.errors.isEmpty)
        #expect(events.frames == frames.enumerated().map { withWallClock($1, Int64($0) * 1_000) })
    }

    @Test func aLostPacketIsReportedAndVideoResumesAtTheNextKeyframe() throws {
        let (tracks, frames, bytes) = try stream()
        // Remove the second packet of video frame 10's PES.
        let packets = RawPacket.all(in: bytes)
        let starts = packets.indices.filter { packets[$0].pid == 0x100 && packets[$0].unitStart }
        let lost = packets[starts[10] + 1]
        #expect(lost.pid == 0x100 && !lost.unitStart)
        var damaged = bytes
        damaged.removeSubrange(lost.offset..<(lost.offset + 188))

        let events = demux(damaged)
        #expect(
            events.errors == [
                .continuityError(pid: 0x100, expected: lost.continuityCounter, got: (lost.continuityCounter + 1) & 0x0F)
            ])
        #expect(events.trackAnnouncements == [tracks])
        let video = frames.filter { $0.trackID == 1 }
        #expect(events.frames(track: 1) == Array(video[0..<10] + video[25...]))
        #expect(events.frames(track: 2) == frames.filter { $0.trackID == 2 })
    }

    @Test func transportErrorIndicatorDropsThePESAndVideoWaitsForAKeyframe() throws {
        let (_, frames, bytes) = try stream()
        let packets = RawPacket.all(in: bytes)
        let starts = packets.filter { $0.pid == 0x100 && $0.unitStart }
        var damaged = bytes
        damaged[starts[30].offset + 1] |= 0x80
        let events = demux(damaged)
        #expect(events.errors == [.transportError(pid: 0x100)])
        let video = frames.filter { $0.trackID == 1 }
        #expect(events.frames(track: 1) == Array(video[0..<30] + video[50...]))
    }

    @Test func anOversizedPESIsDroppedWithinTheCap() throws {
        let track = try Synthetic.videoTrack()
        let frames = [Synthetic.videoFrame(0, size: 120_000)] + (1..<50).map { Synthetic.videoFrame($0) }
        let bytes = Synthetic.mux(frames, tracks: [track])
        let events = demux(bytes, demuxer: TSDemuxer(maxPESSize: 50_000))
        let errors = events.errors
        #expect(errors.count == 1)
        guard case .pesTooLarge(pid: 0x100, let size, limit: 50_000)? = errors.first else {
            Issue.record("expected pesTooLarge, got \(errors)")
            return
        }
        #expect(size > 50_000 && size <= 50_000 + 184)
        #expect(events.trackAnnouncements == [[track]])
        #expect(events.frames == Array(frames[25...]))
    }

    @Test func tracksAreAnnouncedAfterOneSecondWhenAStreamNeverGetsAConfig() throws {
        // The PMT lists audio, but no audio ever comes.
        let video = try Synthetic.videoTrack()
        let frames = (0..<50).map { Synthetic.videoFrame($0) }
        let bytes = Synthetic.mux(frames, tracks: [video, Synthetic.audioTrack])
        let events = demux(bytes)
        #expect(events.errors.isEmpty)
        #expect(events.first == .tracks([video]))
        #expect(events.frames == frames)
        // Frames 0-24 are held (no event at all) until frame 25 brings one second of media.
        let (same, offsets) = Synthetic.muxWithOffsets(frames, tracks: [video, Synthetic.audioTrack])
        #expect(same == bytes)
        var demuxer = TSDemuxer()
        let whole = ByteBuffer(bytes: bytes)
        let head = try #require(whole.getSlice(at: 0, length: offsets[25]))
        let tail = try #require(whole.getSlice(at: offsets[25], length: bytes.count - offsets[25]))
        #expect(demuxer.feed(head, wallClockMicros: 0).isEmpty)
        let rest = demuxer.feed(tail, wallClockMicros: 0)
        #expect(rest.first == .tracks([video]))
        #expect(Array(rest.frames.prefix(26)) == Array(frames[0...25]))
    }

    @Test func audioIsHeldUntilVideoIsConfiguredThenReleasedFirst() throws {
        // Audio starts 0.2 s before video, and its frames wait for the video config.
        let (tracks, _, _) = try stream()
        let audio = (0..<20).map { Synthetic.audioFrame($0) }
        let video = (0..<10).map { Synthetic.videoFrame($0, base: 19_200) }
        let frames = (audio + video).sorted { ($0.dts, $0.trackID) < ($1.dts, $1.trackID) }
        let events = demux(Synthetic.mux(frames, tracks: tracks))
        #expect(events.first == .tracks(tracks))
        #expect(events.frames == frames)
    }

    @Test func videoStartsAtTheFirstKeyframe() throws {
        let (tracks, frames, bytes) = try stream()
        // Start reading in the middle of the stream, at frame 5's PES (no tables before it yet).
        let packets = RawPacket.all(in: bytes)
        let start = try #require(packets.first { $0.pid == 0x100 && $0.unitStart && $0.offset > 188 * 40 })
        let events = demux(Array(bytes[start.offset...]))
        #expect(events.errors.isEmpty)
        #expect(events.trackAnnouncements == [tracks])
        let video = events.frames(track: 1)
        #expect(video.first?.isKeyframe == true)
        #expect(video == Array(frames.filter { $0.trackID == 1 }[25...]))
    }

    @Test func garbageOnlyInputIsSkippedAndCounted() {
        // No 0x47 anywhere, so there is no false sync: everything is skipped, in bounded memory.
        var generator = SeededGenerator(seed: 3)
        let garbage = (0..<1_000_000).map { _ in UInt8.random(in: 0x48...0xFF, using: &generator) }
        let events = demux(garbage, pattern: .fixed(4096))
        #expect(events == [.error(.lostSync(skippedBytes: 1_000_000))])
    }

    @Test func randomBytesNeverCrashTheDemuxer() {
        for seed in 0..<20 {
            var generator = SeededGenerator(seed: UInt64(seed))
            let bytes = (0..<50_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = demux(bytes, pattern: .random(seed: UInt64(seed), maxSize: 1000))
        }
    }

    @Test func mutatedStreamsNeverCrashAndOnlyAnnouncedTracksGetFrames() throws {
        let (_, _, bytes) = try stream(seconds: 2)
        for seed in 0..<40 {
            var generator = SeededGenerator(seed: UInt64(seed))
            var damaged = bytes
            for _ in 0..<30 {
                let index = Int.random(in: 0..<damaged.count, using: &generator)
                damaged[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &generator)
            }
            if seed % 2 == 1 {
                let cut = Int.random(in: 0..<damaged.count, using: &generator)
                damaged.removeSubrange(cut..<min(damaged.count, cut + Int.random(in: 1...400, using: &generator)))
            }
            var announced: Set<Int> = []
            for event in demux(damaged, pattern: .random(seed: UInt64(seed), maxSize: 500)) {
                switch event {
                case .tracks(let tracks): announced = Set(tracks.map(\.id))
                case .frame(let frame): #expect(announced.contains(frame.trackID))
                case .error(let error): #expect(!error.description.isEmpty)
                }
            }
        }
    }

    @Test func aDamagedPMTIsReportedByCRC() throws {
        let (_, _, bytes) = try stream()
        let pmt = try #require(RawPacket.all(in: bytes).first { $0.pid == 0x1000 })
        var damaged = bytes
        damaged[pmt.offset + 5 + 10] ^= 0x01  // inside the section, before its CRC
        let events = demux(damaged)
        guard case .crcMismatch(pid: 0x1000, tableID: 0x02, _, _)? = events.errors.first else {
            Issue.record("expected a CRC mismatch, got \(events.errors)")
            return
        }
        #expect(events.errors.count == 1)
    }

    @Test func aTruncatedLastPacketIsReportedAndItsPESDropped() throws {
        let track = try Synthetic.videoTrack()
        let frames = (0..<10).map { Synthetic.videoFrame($0) }
        let bytes = Synthetic.mux(frames, tracks: [track])
        let events = demux(Array(bytes.dropLast(100)), pattern: .fixed(100))
        // The cut packet's PES is dropped, not emitted incomplete.
        #expect(events.errors == [.truncatedPacket(bytes: 88)])
        #expect(events.frames == Array(frames.dropLast()))
    }

    @Test func anAudioPESWithoutPTSContinuesFromThePreviousOne() throws {
        let frames = (0..<20).map { Synthetic.audioFrame($0) }
        let bytes = Synthetic.mux(frames, tracks: [Synthetic.audioTrack])
        let starts = RawPacket.all(in: bytes).filter { $0.pid == 0x101 && $0.unitStart }
        #expect(starts.count == 20)
        // Clear PTS_DTS_flags; the 5 PTS bytes stay behind as header stuffing.
        func withoutPTS(_ indices: [Int]) -> [UInt8] {
            var patched = bytes
            for index in indices {
                let flags = starts[index].offset + starts[index].payloadOffset + 7
                #expect(patched[flags] == 0x80)
                patched[flags] = 0x00
            }
            return patched
        }
        let continued = demux(withoutPTS([4, 5, 12]))
        #expect(continued.errors.isEmpty)
        #expect(continued.frames == frames)
        // The first PES has nothing to continue from.
        let first = demux(withoutPTS([0]))
        #expect(first.errors == [.missingPTS(pid: 0x101)])
        #expect(first.frames == Array(frames.dropFirst()))
    }

    @Test func errorDescriptionsNameTheProblem() {
        #expect(
            TSDemuxError.continuityError(pid: 0x100, expected: 3, got: 5).description
                == "continuity error on PID 0x0100: expected counter 3, got 5")
        #expect(TSDemuxError.lostSync(skippedBytes: 688).description == "lost MPEG-TS sync: skipped 688 bytes")
        #expect(
            TSDemuxError.invalidPESHeader(pid: 0x101, field: "PTS marker_bit", value: 0).description
                == "invalid PES header on PID 0x0101: PTS marker_bit = 0")
        #expect(
            TSDemuxError.crcMismatch(pid: 0x1000, tableID: 2, expected: 0xDEAD_BEEF, computed: 0x1234).description
                == "CRC mismatch in table 0x0002 on PID 0x1000: section says 0xDEADBEEF, computed 0x00001234")
    }
}
