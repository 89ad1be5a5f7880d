import EstuaryDVR
import EstuaryMP4
import EstuaryTestSupport
import NIOCore
import Testing

/// A stored segment packed for an `.mp4` export: a rebased `moof` per run of back-to-back fragments, each followed by
/// its range of the stored bytes in one `mdat`.
@Suite struct PackedExportSegmentTests {
    /// Three fragments of two tracks (video 90 kHz, audio 48 kHz) from `FragmentWriter`, starting at decode times far
    /// from zero, with every sample's payload distinct; the payloads per track, in order.
    /// `videoGap` (90 kHz) is left between the first fragment's video and the second's.
    static func segment(videoStart: Int64, audioStart: Int64, videoGap: Int64 = 0) -> (fragments: [ByteBuffer], samples: [Int: [[UInt8]]]) {
        var writer = FragmentWriter()
        var fragments: [ByteBuffer] = []
        var samples: [Int: [[UInt8]]] = [1: [], 2: []]
        var generator = SeededGenerator(seed: UInt64(videoStart % 1000))
        for index in 0..<3 {
            func run(_ track: Int, count: Int, duration: UInt32, start: Int64) -> TrackFragment {
                let made = (0..<count).map { _ in
                    (0..<Int.random(in: 10...6000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                }
                samples[track]! += made
                return TrackFragment(
                    trackID: track,
                    baseDecodeTime: start + Int64(index * count) * Int64(duration) + (track == 1 && index > 0 ? videoGap : 0),
                    samples: made.enumerated().map {
                        FragmentSample(
                            duration: duration, compositionOffset: 0, isKeyframe: index == 0 && $0.offset == 0,
                            data: ByteBuffer(bytes: $0.element))
                    })
            }
            var out = ByteBuffer()
            writer.write(
                FragmentContent(
                    startsSegment: index == 0, wallClockMicros: 1_700_000_000_000_000 + Int64(index) * 200_000, referenceTrackID: 1,
                    referenceDecodeTime: videoStart,
                    tracks: [run(1, count: 5, duration: 3600, start: videoStart), run(2, count: 9, duration: 1024, start: audioStart)]),
                into: &out)
            fragments.append(out)
        }
        return (fragments, samples)
    }

    /// Each `traf` of each top-level `moof` of `file` (a run of `moof` + `mdat` pairs): track, decode time, and its
    /// samples' bytes, read through the `trun` data offset (from the `moof`'s start) and sizes.
    static func trackRuns(_ file: [UInt8]) throws -> [(track: UInt32, decodeTime: UInt64, samples: [[UInt8]])] {
        func u32(_ at: Int) -> UInt32 { file[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) << 32 | UInt64(u32(at + 4)) }
        #expect(String(decoding: file[4..<8], as: UTF8.self) == "moof")
        var runs: [(UInt32, UInt64, [[UInt8]])] = []
        var moof = 0
        while moof + 8 <= file.count {
            let moofSize = Int(u32(moof))
            guard String(decoding: file[(moof + 4)..<(moof + 8)], as: UTF8.self) == "moof" else {
                moof += moofSize
                continue
            }
            var position = moof + 8
            while position < moof + moofSize {
                let size = Int(u32(position))
                let type = String(decoding: file[(position + 4)..<(position + 8)], as: UTF8.self)
                if type == "traf" {
                    var track: UInt32 = 0
                    var decodeTime: UInt64 = 0
                    var samples: [[UInt8]] = []
                    var child = position + 8
                    while child < position + size {
                        let childSize = Int(u32(child))
                        switch String(decoding: file[(child + 4)..<(child + 8)], as: UTF8.self) {
                        case "tfhd": track = u32(child + 12)
                        case "tfdt": decodeTime = u64(child + 12)
                        case "trun":
                            let count = Int(u32(child + 12))
                            var offset = moof + Int(Int32(bitPattern: u32(child + 16)))
                            for sample in 0..<count {
                                // Version 1, flags 0xF01: duration, size, flags, composition offset per sample.
                                let length = Int(u32(child + 20 + sample * 16 + 4))
                                samples.append(Array(file[offset..<(offset + length)]))
                                offset += length
                            }
                        default: break
                        }
                        child += childSize
                    }
                    runs.append((track, decodeTime, samples))
                }
                position += size
            }
            moof += moofSize
        }
        return runs
    }

    /// The export bytes of a packed segment: each run's header numbered from `sequence`, then its range of `stored`.
    static func exported(_ packed: PackedExportSegment, stored: ByteBuffer, sequence: UInt32, timeline: ExportTimeline) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, run) in packed.runs.enumerated() {
            let header = run.header(sequence: sequence + UInt32(index), timeline: timeline)
            #expect(header.readableBytes == run.headerSize)
            bytes += Array(header.readableBytesView)
            bytes += Array(stored.readableBytesView)[run.fileRange]
        }
        return bytes
    }

    @Test func thePackedHeaderPointsAtEverySampleInTheStoredBytesAndStartsTheTimelineAtZero() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let initID = try archive.storeInit(fakeInit())
            let (first, firstSamples) = Self.segment(videoStart: 90_000 * 1_700_000_000, audioStart: 48_000 * 1_700_000_000)
            let (second, secondSamples) = Self.segment(
                videoStart: 90_000 * 1_700_000_000 + 54_000, audioStart: 48_000 * 1_700_000_000 + 27_648)
            let records = try [first, second].enumerated().map { index, fragments in
                try archive.write(
                    fragments: fragments, startMs: 1_700_000_000_000 + Int64(index) * 600, durationMs: 600, initID: initID)
            }
            let layouts = try records.map { try archive.segmentLayout($0) }
            let (segments, timeline) = PackedExportSegment.plan(layouts)
            for (index, (record, expected)) in zip(records, [firstSamples, secondSamples]).enumerated() {
                let packed = try #require(segments[index])
                #expect(packed.runs.count == 1 && packed.runs[0].fileRange == 0..<record.bytes)
                #expect(packed.exportedBytes == packed.runs[0].headerSize + record.bytes)
                let stored = try archive.segmentBytes(record)
                let file = Self.exported(packed, stored: stored, sequence: UInt32(index + 1), timeline: timeline)
                // After the moof: one mdat holding exactly the stored file.
                let mdat = packed.runs[0].headerSize - 8
                #expect(String(decoding: file[(mdat + 4)..<(mdat + 8)], as: UTF8.self) == "mdat")
                #expect(file[mdat..<(mdat + 4)].reduce(0) { $0 << 8 | Int($1) } == 8 + record.bytes)
                #expect(file[20..<24].reduce(0) { $0 << 8 | Int($1) } == index + 1, "the sequence number")
                let runs = try Self.trackRuns(file)
                #expect(runs.count == 6, "three fragments of two tracks each")
                for track in [1, 2] {
                    let mine = runs.filter { $0.track == UInt32(track) }
                    // (Compared whole, reported short: the samples are kilobytes each.)
                    let same = mine.flatMap(\.samples) == expected[track]
                    #expect(same, "track \(track) of segment \(index): its samples differ from those written")
                    // Decode times continue from zero across fragments and segments.
                    let perFragment: UInt64 = track == 1 ? 5 * 3600 : 9 * 1024
                    let firstOfSegment: UInt64 = index == 0 ? 0 : (track == 1 ? 54_000 : 27_648)
                    #expect(mine.map(\.decodeTime) == (0..<3).map { firstOfSegment + UInt64($0) * perFragment })
                }
            }
        }
    }

    @Test func aKeptHeaderIsReusedOnlyForTheSameSequenceNumberAndTimeline() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let initID = try archive.storeInit(fakeInit())
            let (fragments, _) = Self.segment(videoStart: 90_000 * 1_700_000_000, audioStart: 48_000 * 1_700_000_000)
            let record = try archive.write(fragments: fragments, startMs: 1_700_000_000_000, durationMs: 600, initID: initID)
            let run = try #require(try archive.segmentLayout(record).packed?.runs.first)
            func decodeTimes(_ header: ByteBuffer) throws -> [UInt64] {
                try Self.trackRuns(Array(header.readableBytesView) + Array(try archive.segmentBytes(record).readableBytesView))
                    .map(\.decodeTime)
            }
            var fromHere = ExportTimeline()
            fromHere.learn(try #require(try archive.segmentLayout(record).packed))
            let first = run.header(sequence: 1, timeline: fromHere)
            #expect(try decodeTimes(first) == [0, 0, 18_000, 9216, 36_000, 18_432])
            // Another sequence number, another timeline (an export that starts earlier), then the first again.
            let renumbered = run.header(sequence: 2, timeline: fromHere)
            #expect(renumbered.getInteger(at: 20, as: UInt32.self) == 2 && first.getInteger(at: 20, as: UInt32.self) == 1)
            let fromEarlier = ExportTimeline()
            #expect(try decodeTimes(run.header(sequence: 1, timeline: fromEarlier)).first == 90_000 * 1_700_000_000)
            #expect(run.header(sequence: 1, timeline: fromHere) == first)
        }
    }

    @Test func aSegmentWithAGapBetweenItsFragmentsIsPackedIntoARunEachSideOfTheGap() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let initID = try archive.storeInit(fakeInit())
            // Players would time the second fragment from the end of the first within one moof: a gap starts a new run.
            let (fragments, expected) = Self.segment(
                videoStart: 90_000 * 1_700_000_000, audioStart: 48_000 * 1_700_000_000, videoGap: 3600)
            let record = try archive.write(fragments: fragments, startMs: 1_700_000_000_000, durationMs: 600, initID: initID)
            let layout = try archive.segmentLayout(record)
            let packed = try #require(layout.packed)
            // The gap is between the first fragment's video and the second's: two runs, split at the second moof.
            #expect(packed.runs.count == 2)
            // Where the second fragment's moof starts (its `prft` before it rides at the end of the first run).
            var split = fragments[0].readableBytes
            while let size = fragments[1].getInteger(at: split - fragments[0].readableBytes, as: UInt32.self),
                fragments[1].getString(at: split - fragments[0].readableBytes + 4, length: 4) != "moof"
            {
                split += Int(size)
            }
            #expect(packed.runs.map(\.fileRange) == [0..<split, split..<record.bytes])
            var timeline = ExportTimeline()
            timeline.learn(packed)
            let file = Self.exported(packed, stored: try archive.segmentBytes(record), sequence: 7, timeline: timeline)
            let runs = try Self.trackRuns(file)
            #expect(runs.count == 6)
            for track in [1, 2] {
                let mine = runs.filter { $0.track == UInt32(track) }
                let same = mine.flatMap(\.samples) == expected[track]
                #expect(same, "track \(track): its samples differ from those written")
            }
            let video = runs.filter { $0.track == 1 }.map(\.decodeTime)
            let audio = runs.filter { $0.track == 2 }.map(\.decodeTime)
            #expect(video == [0, 18_000 + 3600, 36_000 + 3600], "video, its gap kept")
            #expect(audio == [0, 9216, 18_432])
            // The second run's moof is numbered one past the first's.
            let second = packed.runs[0].headerSize + split
            #expect(file[(second + 20)..<(second + 24)].reduce(0) { $0 << 8 | Int($1) } == 8)
        }
    }

    /// Every `tfdt` (track, value) and `prft` media time of a stored segment's bytes, in order.
    static func times(_ segment: [UInt8]) -> (decodeTimes: [(UInt32, UInt64)], prftTimes: [UInt64]) {
        func u32(_ at: Int) -> UInt32 { segment[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) << 32 | UInt64(u32(at + 4)) }
        var decodeTimes: [(UInt32, UInt64)] = []
        var prftTimes: [UInt64] = []
        func walk(_ start: Int, _ end: Int) {
            var position = start
            var track: UInt32 = 0
            while position + 8 <= end {
                let size = Int(u32(position))
                switch String(decoding: segment[(position + 4)..<(position + 8)], as: UTF8.self) {
                case "moof", "traf": walk(position + 8, position + size)
                case "tfhd": track = u32(position + 12)
                case "tfdt": decodeTimes.append((track, u64(position + 12)))
                case "prft": prftTimes.append(u64(position + 24))
                default: break
                }
                position += size
            }
        }
        walk(0, segment.count)
        return (decodeTimes, prftTimes)
    }

    @Test func aSegmentRebasedInPlaceKeepsItsGap() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let initID = try archive.storeInit(fakeInit())
            let (fragments, _) = Self.segment(videoStart: 90_000 * 1_700_000_000, audioStart: 48_000 * 1_700_000_000, videoGap: 3600)
            let record = try archive.write(fragments: fragments, startMs: 1_700_000_000_000, durationMs: 600, initID: initID)
            var timeline = ExportTimeline()
            timeline.learn(try archive.segmentLayout(record).parts)
            let rebased = timeline.rebase(try archive.segmentBytes(record))
            let (decodeTimes, prftTimes) = Self.times(Array(rebased.readableBytesView))
            let video: [UInt64] = decodeTimes.filter { $0.0 == 1 }.map(\.1)
            let audio: [UInt64] = decodeTimes.filter { $0.0 == 2 }.map(\.1)
            let expectedVideo: [UInt64] = [0, 18_000 + 3600, 36_000 + 3600]
            #expect(video == expectedVideo, "video, its gap kept")
            #expect(audio == [0, 9216, 18_432], "audio")
            // `prft` refers to the first video decode time of the segment: rebased with it.
            #expect(prftTimes == [UInt64](repeating: 0, count: 3))
            // A timeline that learns as it rebases (a range of an unplanned export) gives the same bytes.
            var learning = ExportTimeline()
            #expect(learning.rebase(try archive.segmentBytes(record)) == rebased)
        }
    }

    @Test func aSegmentWhoseFragmentsAreNotInTheWritersFormIsNotPacked() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            // Opaque `moof` boxes (no `traf`): nothing to rebase or point at.
            let record = try writeSegments(archive, count: 1, startMs: 1_700_000_000_000)[0]
            let layout = try archive.segmentLayout(record)
            #expect(layout.packed == nil)
            #expect(PackedExportSegment(layout.parts, segmentBytes: record.bytes) == nil)
        }
    }
}
