import EstuaryMP4
import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

@Suite struct M4FRoundTripTests {
    static let stream = SyntheticStream()

    /// A short stream (init + two small fragments) for exhaustive split tests.
    static let shortStream = SyntheticStream(
        .init(fragmentCount: 2, videoFramesPerFragment: 2, fragmentsPerSegment: 1, videoPayloadSizes: 3...12, audioPayloadSizes: 2...6))

    @Test func theSyntheticStreamCoversWhatTheTestsClaim() {
        let stream = Self.stream
        let samples = stream.contents.flatMap(\.tracks).flatMap(\.samples)
        #expect(samples.contains { $0.compositionOffset < 0 })
        #expect(samples.contains { $0.compositionOffset > 0 })
        #expect(stream.contents.map(\.startsSegment) == (0..<12).map { $0 % 3 == 0 })
        #expect(stream.contents.allSatisfy { $0.tracks[1].samples.count >= 9 })
        #expect(Set(stream.contents.map(\.wallClockMicros)).count == 12)
    }

    @Test func wholeInputYieldsTheTracksAndEveryFragmentAsWritten() {
        let stream = Self.stream
        let events = read(stream.bytes)
        let expected = stream.expectedEvents(fragments: 0..<12)
        #expect(events.map(\.description) == expected.map(\.description))
        #expect(events == expected)
    }

    @Test func eachFieldRoundTrips() throws {
        let stream = Self.stream
        let events = read(stream.bytes)
        guard case .initialization(let tracks, let raw) = events.first else {
            Issue.record("no initialization first: \(events.first.map(\.description) ?? "nothing")")
            return
        }
        #expect(tracks == stream.tracks)
        #expect(raw == stream.initSegment)
        let fragments = events.compactMap(\.fragment)
        #expect(fragments.count == 12)
        for (index, fragment) in fragments.enumerated() {
            let content = stream.contents[index]
            #expect(fragment.sequenceNumber == 100 + UInt32(index))
            #expect(fragment.startsSegment == content.startsSegment)
            #expect(fragment.wallClockMicros == content.wallClockMicros)
            #expect(fragment.raw == stream.fragmentBytes[index])
            let video = fragment.frames.filter { $0.trackID == 1 }
            let audio = fragment.frames.filter { $0.trackID == 2 }
            #expect(video.map(\.dts) == (0..<5).map { SyntheticStream.videoBase + Int64(index * 5 + $0) * 3_600 })
            #expect(video.map(\.compositionOffset) == content.tracks[0].samples.map { Int64($0.compositionOffset) })
            #expect(video.map(\.isKeyframe) == content.tracks[0].samples.map(\.isKeyframe))
            #expect(video.map(\.data) == content.tracks[0].samples.map(\.data))
            #expect(video.allSatisfy { $0.codec == .h264 })
            #expect(audio.map(\.data) == content.tracks[1].samples.map(\.data))
            #expect(audio.allSatisfy { $0.codec == .aac && $0.isKeyframe && $0.pts == $0.dts })
            #expect(fragment.frames.map(\.dts) == fragment.frames.map(\.dts).sorted())
        }
    }

    @Test func oneByteAtATimeYieldsTheSameEvents() {
        let stream = Self.stream
        #expect(read(stream.bytes, .fixed(1)) == stream.expectedEvents(fragments: 0..<12))
    }

    @Test(arguments: [7, 8, 9, 100, 4096])
    func fixedChunksYieldTheSameEvents(size: Int) {
        let stream = Self.stream
        #expect(read(stream.bytes, .fixed(size)) == stream.expectedEvents(fragments: 0..<12))
    }

    @Test func everyTwoPieceSplitYieldsTheSameEvents() {
        let stream = Self.shortStream
        let bytes = stream.bytes
        let expected = stream.expectedEvents(fragments: 0..<2)
        #expect(read(bytes) == expected)
        var failures: [Int] = []
        for split in 1..<bytes.count where read(bytes, .sizes([split])) != expected {
            failures.append(split)
        }
        #expect(failures == [])
    }

    @Test(arguments: 1...20 as ClosedRange<UInt64>)
    func seededRandomChunksYieldTheSameEvents(seed: UInt64) {
        let stream = Self.stream
        #expect(read(stream.bytes, .random(seed: seed, maxSize: seed % 2 == 0 ? 64 : 5000)) == stream.expectedEvents(fragments: 0..<12))
    }

    @Test func framesCarryWallClockTimesFromPrftAdvancingWithDecodeTime() {
        let stream = Self.stream
        let fragment = read(stream.bytes).compactMap(\.fragment)[4]
        let content = stream.contents[4]
        #expect(fragment.frames.first?.wallClockMicros == content.wallClockMicros)
        // The third video frame is two frames (80 ms) after the reference decode time.
        let video = fragment.frames.filter { $0.trackID == 1 }
        #expect(video[2].wallClockMicros == content.wallClockMicros + 80_000)
        // Audio frame decode times are not multiples of 90: 1 000 + n * 1 920 ticks in, rounded down.
        let audio = fragment.frames.first { $0.trackID == 2 }!
        #expect(audio.wallClockMicros == content.wallClockMicros + (audio.dts - content.referenceDecodeTime) * 1_000_000 / 90_000)
    }

    @Test func aFragmentWithoutPrftTakesTheArrivalTime() {
        let stream = Self.stream
        var fragment = stream.fragmentBytes[1]
        let prft = stream.offset(of: "prft", inFragment: 1)
        fragment.removeSubrange(prft..<prft + Int(fragment.uint32(at: prft)))
        let events = read(stream.initSegment + stream.bytes(fragments: 0..<1) + fragment, arrivalMicros: 42_000_000)
        let fragments = events.compactMap(\.fragment)
        #expect(events.count == 3)
        #expect(fragments.count == 2)
        #expect(fragments.last?.raw == fragment)
        #expect(fragments.last?.wallClockMicros == 42_000_000)
        // Without prft, every frame of the fragment entered Estuary when the fragment arrived.
        let frames = fragments.last?.frames ?? []
        #expect(frames.count == 15)
        #expect(frames.allSatisfy { $0.wallClockMicros == 42_000_000 })
    }

    @Test func aRepeatedInitSegmentIsReportedAgainAndReplacesTheTracks() throws {
        let stream = Self.stream
        let other = [
            TrackInfo(id: 1, config: .h264(try H264Config(sps: [Fixtures.h264BaselineSPS], pps: [Fixtures.h264BaselinePPS])))
        ]
        let otherInit = Array(InitSegmentWriter.write(tracks: other).readableBytesView)
        var reader = M4FReader()
        let first = reader.feed(ByteBuffer(bytes: stream.initSegment + stream.bytes(fragments: 0..<3)), arrivalMicros: 0)
        #expect(first.map(Observed.init) == stream.expectedEvents(fragments: 0..<3))
        #expect(reader.currentTracks == stream.tracks)
        let second = reader.feed(ByteBuffer(bytes: otherInit), arrivalMicros: 0).map(Observed.init)
        #expect(second == [.initialization(tracks: other, raw: otherInit)])
        #expect(reader.currentTracks == other)
        // Audio (track 2) is no longer declared: its traf is now an error.
        let after = reader.feed(ByteBuffer(bytes: stream.fragmentBytes[3]), arrivalMicros: 0).map(Observed.init)
        #expect(after == [.error(.unknownTrack(2))])
    }

    @Test func anH265TrackRoundTrips() throws {
        let config = try H265Config(vps: [Fixtures.h265VPS720], sps: [Fixtures.h265SPS720], pps: [Fixtures.h265PPS])
        let tracks = [
            TrackInfo(id: 1, config: .h265(config)),
            TrackInfo(id: 2, config: .aac(try AACConfig(audioSpecificConfig: Fixtures.aac44100Mono))),
        ]
        let initSegment = InitSegmentWriter.write(tracks: tracks)
        var writer = FragmentWriter()
        var bytes = initSegment
        let idr = ByteBuffer(bytes: [0, 0, 0, 4, 0x26, 0x01, 0xAF, 0x80, 0, 0, 0, 3, 0x02, 0x01, 0xD0])
        let trail = ByteBuffer(bytes: [0, 0, 0, 3, 0x02, 0x01, 0xD1])
        let aac = ByteBuffer(bytes: [0x21, 0x10, 0x04, 0x60])
        writer.write(
            FragmentContent(
                startsSegment: true, wallClockMicros: 1_000_000, referenceTrackID: 1, referenceDecodeTime: 0,
                tracks: [
                    TrackFragment(
                        trackID: 1, baseDecodeTime: 0,
                        samples: [
                            FragmentSample(duration: 3_000, compositionOffset: 3_000, isKeyframe: true, data: idr),
                            FragmentSample(duration: 3_000, compositionOffset: -3_000, isKeyframe: false, data: trail),
                        ]),
                    TrackFragment(
                        trackID: 2, baseDecodeTime: 100,
                        samples: [FragmentSample(duration: 2_090, compositionOffset: 0, isKeyframe: true, data: aac)]),
                ]), into: &bytes)
        let events = read(Array(bytes.readableBytesView))
        #expect(events.count == 2)
        guard case .initialization(let readTracks, _) = events.first, let fragment = events.last?.fragment else {
            Issue.record("unexpected events \(events)")
            return
        }
        #expect(readTracks == tracks)
        #expect(fragment.sequenceNumber == 1)
        #expect(fragment.startsSegment)
        #expect(fragment.wallClockMicros == 1_000_000)
        #expect(
            fragment.frames == [
                MediaFrame(trackID: 1, codec: .h265, dts: 0, pts: 3_000, isKeyframe: true, data: idr, wallClockMicros: 1_000_000),
                MediaFrame(trackID: 2, codec: .aac, dts: 100, pts: 100, isKeyframe: true, data: aac, wallClockMicros: 1_001_111),
                MediaFrame(trackID: 1, codec: .h265, dts: 3_000, pts: 0, isKeyframe: false, data: trail, wallClockMicros: 1_033_333),
            ])
    }

    @Test func theInitSegmentIsDeterministicAndDependsOnTheTracks() throws {
        let stream = Self.stream
        #expect(Array(InitSegmentWriter.write(tracks: stream.tracks).readableBytesView) == stream.initSegment)
        let mono = [stream.tracks[0], TrackInfo(id: 2, config: .aac(try AACConfig(audioSpecificConfig: Fixtures.aac44100Mono)))]
        #expect(Array(InitSegmentWriter.write(tracks: mono).readableBytesView) != stream.initSegment)
        // ftyp then moov, nothing else.
        let bytes = stream.initSegment
        let ftypSize = Int(bytes.uint32(at: 0))
        #expect(Array(bytes[4..<8]) == Array("ftyp".utf8))
        #expect(Array(bytes[ftypSize + 4..<ftypSize + 8]) == Array("moov".utf8))
        #expect(ftypSize + Int(bytes.uint32(at: ftypSize)) == bytes.count)
    }

    @Test func fragmentLayoutIsStypPrftMoofMdatWithIncreasingSequenceNumbers() {
        let stream = Self.stream
        for (index, bytes) in stream.fragmentBytes.enumerated() {
            var types: [String] = []
            var offset = 0
            while offset + 8 <= bytes.count {
                types.append(String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self))
                offset += Int(bytes.uint32(at: offset))
            }
            #expect(offset == bytes.count)
            #expect(types == (index % 3 == 0 ? ["styp", "prft", "moof", "mdat"] : ["prft", "moof", "mdat"]))
            // mfhd sequence number: 8 bytes of moof header, 12 of mfhd header and flags.
            let moof = stream.offset(of: "moof", inFragment: index)
            #expect(bytes.uint32(at: moof + 20) == 100 + UInt32(index))
        }
    }
}
