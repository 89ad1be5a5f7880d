import EstuaryMP4
import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

/// Damaged input: the reader reports an error naming the problem, never traps, and resumes
/// with the next whole fragment, video only from a keyframe on.
@Suite struct M4FDamageTests {
    static let stream = SyntheticStream()
    static let garbage = Array(repeating: Array("GARBAGE-".utf8), count: 8).flatMap { $0 }
    static let chunkings: [ChunkPattern] = [.whole, .fixed(1), .fixed(13), .random(seed: 7, maxSize: 700)]

    /// Checks that `bytes` read the same in every chunking and equal `expected`; also that after
    /// each error the first video frame delivered is a keyframe.
    func expectEvents(
        _ bytes: [UInt8], _ expected: [Observed], reader: M4FReader = M4FReader(), sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for chunking in Self.chunkings {
            let events = read(bytes, chunking, reader: reader)
            #expect(events.map(\.description) == expected.map(\.description), "\(chunking)", sourceLocation: sourceLocation)
            #expect(events == expected, "\(chunking)", sourceLocation: sourceLocation)
            if let lastError = events.lastIndex(where: \.isError) {
                let firstVideo = events[lastError...].compactMap(\.fragment).flatMap(\.frames).first { $0.codec.isVideo }
                #expect(firstVideo?.isKeyframe == true, sourceLocation: sourceLocation)
            }
        }
    }

    @Test func garbageBeforeTheInitSegmentIsSkipped() {
        let stream = Self.stream
        #expect(Self.garbage.count == 64)
        expectEvents(
            Self.garbage + stream.bytes,
            [.error(.malformedBox(type: "AGE-", reason: "unexpected top-level box")), .error(.skippedBytes(64))]
                + stream.expectedEvents(fragments: 0..<12))
    }

    @Test func garbageBeforeASegmentStartLosesNothing() {
        let stream = Self.stream
        expectEvents(
            stream.initSegment + stream.bytes(fragments: 0..<3) + Self.garbage + stream.bytes(fragments: 3..<12),
            stream.expectedEvents(fragments: 0..<3)
                + [.error(.malformedBox(type: "AGE-", reason: "unexpected top-level box")), .error(.skippedBytes(64))]
                + stream.expectedEvents(fragments: 3..<12).dropFirst())
    }

    @Test func garbageInsideASegmentDropsVideoUntilTheNextKeyframe() {
        let stream = Self.stream
        // Fragments 4 and 5 continue the segment fragment 3 began: without a keyframe they are dropped.
        expectEvents(
            stream.initSegment + stream.bytes(fragments: 0..<4) + Self.garbage + stream.bytes(fragments: 4..<12),
            stream.expectedEvents(fragments: 0..<4)
                + [.error(.malformedBox(type: "AGE-", reason: "unexpected top-level box")), .error(.skippedBytes(64))]
                + stream.expectedEvents(fragments: 6..<12).dropFirst())
    }

    @Test func afterDamageAFragmentIsTrimmedToItsFirstKeyframe() {
        // Keyframes at video frames 0 and 22: fragment 4 (frames 20-24) holds one mid-fragment.
        let stream = SyntheticStream(.init(fragmentCount: 8, keyframes: [0, 22]))
        var trimmed = stream.expectedFragment(4)
        let keyframeDTS = SyntheticStream.videoBase + 22 * SyntheticStream.videoDuration
        trimmed.frames.removeAll { $0.codec.isVideo && $0.dts < keyframeDTS }
        trimmed.wallClockMicros = trimmed.frames[0].wallClockMicros
        #expect(trimmed.frames.filter(\.codec.isVideo).count == 3)
        #expect(trimmed.frames.count(where: { !$0.codec.isVideo }) == stream.contents[4].tracks[1].samples.count)
        expectEvents(
            stream.initSegment + stream.bytes(fragments: 0..<3) + Self.garbage + stream.bytes(fragments: 3..<8),
            stream.expectedEvents(fragments: 0..<3)
                + [.error(.malformedBox(type: "AGE-", reason: "unexpected top-level box")), .error(.skippedBytes(64))]
                + [.fragment(trimmed)] + stream.expectedEvents(fragments: 5..<8).dropFirst())
    }

    @Test func aFragmentTruncatedInsideItsMoofIsDroppedAndReadingResumes() {
        let stream = Self.stream
        // Fragment 4 ends 20 bytes into its moof: the moof's declared size swallows most of
        // fragment 5, whose remains are skipped up to its mdat.
        let moof4 = stream.offset(of: "moof", inFragment: 4)
        let truncated = Array(stream.fragmentBytes[4][..<(moof4 + 20)])
        let moofSize = Int(stream.fragmentBytes[4].uint32(at: moof4))
        let fragment5 = stream.fragmentBytes[5]
        let resume = moofSize - 20
        let mdat5 = stream.offset(of: "mdat", inFragment: 5)
        #expect(resume > stream.offset(of: "moof", inFragment: 5) && resume < mdat5)
        // The mfhd reads fragment 5's prft size as its sequence number; the next "child" is
        // fragment 5's prft type read as a size.
        let expectedErrors: [Observed] = [
            .error(.invalidBoxSize(type: "????", size: UInt64(fragment5.uint32(at: 4)))),
            .error(.malformedBox(type: FourCC(rawValue: fragment5.uint32(at: resume + 4)).description, reason: "unexpected top-level box")),
            .error(.skippedBytes(mdat5 - resume)),
        ]
        expectEvents(
            stream.initSegment + stream.bytes(fragments: 0..<4) + truncated + stream.bytes(fragments: 5..<12),
            stream.expectedEvents(fragments: 0..<4) + expectedErrors + stream.expectedEvents(fragments: 6..<12).dropFirst())
    }

    @Test func aFragmentTruncatedAfterItsStypDoesNotMarkTheNextOneAsASegmentStart() {
        // Keyframes at frames 0, 15 (fragment 3, which begins a segment) and 22 (inside fragment 4).
        let stream = SyntheticStream(.init(fragmentCount: 6, keyframes: [0, 15, 22]))
        let moof3 = stream.offset(of: "moof", inFragment: 3)
        let truncated = Array(stream.fragmentBytes[3][..<(moof3 + 4)])
        var fragment4 = stream.expectedFragment(4)
        #expect(!fragment4.startsSegment)
        let keyframeDTS = SyntheticStream.videoBase + 22 * SyntheticStream.videoDuration
        fragment4.frames.removeAll { $0.codec.isVideo && $0.dts < keyframeDTS }
        fragment4.wallClockMicros = fragment4.frames[0].wallClockMicros
        expectEvents(
            stream.initSegment + stream.bytes(fragments: 0..<3) + truncated + stream.bytes(fragments: 4..<6),
            stream.expectedEvents(fragments: 0..<3)
                + [.error(.malformedBox(type: "??? ", reason: "unexpected top-level box")), .error(.skippedBytes(4))]
                + [.fragment(fragment4), .fragment(stream.expectedFragment(5))])
    }

    @Test func aBitFlippedMoofSizeIsReportedAndTheFragmentSkipped() {
        let stream = Self.stream
        var damaged = stream.fragmentBytes[7]
        let moof = stream.offset(of: "moof", inFragment: 7)
        let moofSize = damaged.uint32(at: moof)
        damaged[moof] ^= 0x40
        expectEvents(
            stream.initSegment + stream.bytes(fragments: 0..<7) + damaged + stream.bytes(fragments: 8..<12),
            stream.expectedEvents(fragments: 0..<7)
                + [.error(.invalidBoxSize(type: "moof", size: 0x4000_0000 + UInt64(moofSize))), .error(.skippedBytes(Int(moofSize)))]
                + stream.expectedEvents(fragments: 9..<12).dropFirst())
    }

    @Test func aMoofWithAnUndeclaredTrackIsReportedAndSkipped() {
        let extra = TrackFragment(
            trackID: 7, baseDecodeTime: 0,
            samples: [FragmentSample(duration: 10, compositionOffset: 0, isKeyframe: true, data: ByteBuffer(bytes: [0x80, 0x81]))])
        let stream = SyntheticStream(.init(extraTracks: [3: extra]))
        #expect(stream.contents[3].tracks.map(\.trackID) == [1, 2, 7])
        expectEvents(
            stream.bytes,
            stream.expectedEvents(fragments: 0..<3) + [.error(.unknownTrack(7))] + stream.expectedEvents(fragments: 6..<12).dropFirst())
    }

    @Test func aFragmentBeforeAnyInitSegmentIsReported() {
        let stream = Self.stream
        expectEvents(
            stream.bytes(fragments: 0..<2) + stream.initSegment + stream.bytes(fragments: 3..<5),
            [.error(.fragmentBeforeInitialization), .error(.fragmentBeforeInitialization)] + stream.expectedEvents(fragments: 3..<5))
    }

    @Test func aBoxDeclaringOneGibibyteIsAnErrorAsSoonAsItsHeaderArrives() {
        let stream = Self.stream
        for header: [UInt8] in [
            [0x40, 0, 0, 0] + Array("mdat".utf8),
            [0, 0, 0, 1] + Array("mdat".utf8) + [0, 0, 0, 0, 0x40, 0, 0, 0],
        ] {
            var reader = M4FReader()
            let start = reader.feed(ByteBuffer(bytes: stream.initSegment + stream.bytes(fragments: 0..<1)), arrivalMicros: 0)
            #expect(start.map(Observed.init) == stream.expectedEvents(fragments: 0..<1))
            // Nothing of the body has arrived: the reader does not wait to buffer it.
            let error = reader.feed(ByteBuffer(bytes: header), arrivalMicros: 0).map(Observed.init)
            #expect(error == [.error(.invalidBoxSize(type: "mdat", size: 1 << 30))])
            let rest = reader.feed(ByteBuffer(bytes: stream.bytes(fragments: 1..<12)), arrivalMicros: 0).map(Observed.init)
            #expect(rest == [.error(.skippedBytes(header.count))] + stream.expectedEvents(fragments: 3..<12).dropFirst())
        }
    }

    @Test func maximumBoxSizeIsRespected() {
        let short = SyntheticStream(
            .init(fragmentCount: 2, videoFramesPerFragment: 2, fragmentsPerSegment: 1, videoPayloadSizes: 3...12, audioPayloadSizes: 2...6))
        let big = Self.stream.fragmentBytes[3]
        let mdat = Self.stream.offset(of: "mdat", inFragment: 3)
        let mdatSize = big.count - mdat
        #expect(mdatSize > 2048)
        #expect(short.initSegment.count < 2048)
        let expected =
            short.expectedEvents(fragments: 0..<1)
            + [.error(.invalidBoxSize(type: "mdat", size: UInt64(mdatSize))), .error(.skippedBytes(mdatSize))]
            + short.expectedEvents(fragments: 1..<2).dropFirst()
        expectEvents(
            short.initSegment + short.bytes(fragments: 0..<1) + big + short.bytes(fragments: 1..<2), expected,
            reader: M4FReader(maximumBoxSize: 2048))
        // The default limit (32 MiB) takes the same fragment.
        #expect(read(short.initSegment + big).compactMap(\.fragment).count == 1)
    }

    @Test func seededRandomGarbageNeverProducesAFragment() {
        var generator = SeededGenerator(seed: 2024)
        let types = ["ftyp", "moov", "styp", "prft", "moof", "mdat", "free", "trak", "mvex"]
        for index in 0..<2000 {
            let count = Int.random(in: 0...600, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if index % 2 == 0, count >= 8 {
                // A plausible box header in front, so the parsers behind it see the random body.
                bytes.set(UInt64(Int.random(in: 8...count, using: &generator)), width: 4, at: 0)
                bytes.replaceSubrange(4..<8, with: Array(types.randomElement(using: &generator)!.utf8))
            }
            let events = read(bytes, .random(seed: UInt64(index), maxSize: 64))
            #expect(events.allSatisfy { $0.fragment == nil }, "array \(index)")
            for case .initialization(let tracks, _) in events {
                #expect(tracks.isEmpty, "array \(index)")
            }
        }
    }

    @Test func seededRandomMutationsOfAValidStreamNeverTrap() {
        let stream = SyntheticStream(.init(fragmentCount: 4, videoPayloadSizes: 3...30, audioPayloadSizes: 2...10))
        let original = stream.bytes
        var generator = SeededGenerator(seed: 99)
        var fragmentsSeen = 0
        for index in 0..<1500 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                if Bool.random(using: &generator) {
                    bytes[position] = UInt8.random(in: 0...255, using: &generator)
                } else {
                    bytes[position] ^= 1 << UInt8.random(in: 0...7, using: &generator)
                }
            }
            let events = read(bytes, .random(seed: UInt64(index), maxSize: 300))
            for fragment in events.compactMap(\.fragment) {
                fragmentsSeen += 1
                #expect(fragment.frames.allSatisfy { [1, 2].contains($0.trackID) }, "mutation \(index)")
                #expect(fragment.frames.map(\.dts) == fragment.frames.map(\.dts).sorted(), "mutation \(index)")
            }
        }
        // Most single-byte damage lands in sample payloads, which the reader cannot notice.
        #expect(fragmentsSeen > 1500)
    }

    @Test func extremeDecodeTimesDoNotTrap() {
        let stream = Self.stream
        var initSegment = stream.initSegment
        var fragment = stream.fragmentBytes[0]
        // The video track's timescale becomes 1 000 (mdhd version 0: timescale at offset 20).
        let mdhd = boxOffset("mdhd", in: initSegment)!
        #expect(initSegment.uint32(at: mdhd + 20) == 90_000)
        initSegment.set(1_000, width: 4, at: mdhd + 20)
        // Video tfdt 2^50 (version 1: the value at offset 12); audio tfdt beyond Int64.max;
        // prft media time 2^50 too (offset 24).
        let videoTfdt = boxOffset("tfdt", in: fragment)!
        let audioTfdt = boxOffset("tfdt", in: fragment, from: videoTfdt + 8)!
        let prft = boxOffset("prft", in: fragment)!
        fragment.set(1 << 50, width: 8, at: videoTfdt + 12)
        fragment.set(UInt64.max, width: 8, at: audioTfdt + 12)
        fragment.set(1 << 50, width: 8, at: prft + 24)
        let events = read(initSegment + fragment)
        #expect(events.count == 2)
        guard let result = events.last?.fragment else {
            Issue.record("no fragment: \(events)")
            return
        }
        let video = result.frames.filter(\.codec.isVideo)
        // 2^50 ms + n * 3 600 ms on the 90 kHz timeline, exactly, although 2^50 * 90 000 overflows.
        let expectedDTS = (0..<5).map { (Int64(1) << 50 + Int64($0) * 3_600) * 90 }
        #expect(video.map(\.dts) == expectedDTS)
        #expect(video.first?.wallClockMicros == stream.contents[0].wallClockMicros)
        #expect(video.map(\.wallClockMicros) == (0..<5).map { stream.contents[0].wallClockMicros + Int64($0) * 3_600_000 })
        // Audio decode times wrap around instead of trapping.
        let audio = result.frames.filter { !$0.codec.isVideo }
        #expect(audio.count == stream.contents[0].tracks[1].samples.count)
        #expect(audio.contains { $0.dts == Int64.max })
    }
}
