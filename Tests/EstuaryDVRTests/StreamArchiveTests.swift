import EstuaryDVR
import EstuaryLive
import EstuaryTestSupport
import Foundation
import NIOCore
import Testing

@Suite struct StreamArchiveTests {
    @Test func dayNamesAreUTCCalendarDays() {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SeededGenerator(seed: 3)
        for _ in 0..<2000 {
            let ms = Int64.random(in: 0...4_102_444_800_000, using: &generator)
            #expect(SegmentRecord.dayName(ofMs: ms) == formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)))
        }
    }

    @Test func aSegmentLayoutLeavesLargeMediaPayloadsInTheFileAndAddsUpToTheFile() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let initID = try archive.storeInit(fakeInit())
            let record = try archive.write(
                fragments: [
                    fakeFragment(keyframe: true, size: 10_000, fill: 1), fakeFragment(keyframe: false, size: 100, fill: 2),
                    fakeFragment(keyframe: false, size: 6000, fill: 3),
                ], startMs: 1_700_000_000_000, durationMs: 4000, initID: initID)
            let path = archive.path(of: record)
            func reassemble(_ parts: [SegmentPart], _ file: [UInt8]) -> [UInt8] {
                parts.flatMap { part -> [UInt8] in
                    switch part {
                    case .boxes(let bytes): Array(bytes.readableBytesView)
                    case .file(let offset, let length): Array(file[offset..<(offset + length)])
                    }
                }
            }
            let file = try #require(FileManager.default.contents(atPath: path).map { Array($0) })
            let parts = try archive.segmentLayout(record).parts
            #expect(reassemble(parts, file) == file)
            // The two payloads of 4 KiB or more stay in the file, each right after its mdat header; the small one is read.
            let ranges = parts.compactMap { part -> (Int, Int)? in if case .file(let o, let l) = part { (o, l) } else { nil } }
            #expect(ranges.map(\.1) == [10_000, 6000])
            for (offset, _) in ranges { #expect(String(decoding: file[(offset - 4)..<offset], as: UTF8.self) == "mdat") }

            // A file cut inside its last box still lays out to exactly its bytes.
            let cut = file.count - 2500
            try FileHandle(forWritingTo: URL(fileURLWithPath: path)).truncate(atOffset: UInt64(cut))
            let cutParts = try archive.segmentLayout(record).parts
            #expect(reassemble(cutParts, Array(file[0..<cut])) == Array(file[0..<cut]))
        }
    }

    @Test func recordsFromMemoryAreTheRecordsOfTheRangeAndInitSegmentsAreKept() throws {
        try withTemporaryDirectorySync { root in
            let startMs: Int64 = 1_700_000_000_000
            let written = try writeSegments(try StreamArchive.open(root: root, name: "cam"), count: 10, startMs: startMs)
            let archive = try StreamArchive.open(root: root, name: "cam")
            // Ranges on segment boundaries (a segment ending at `from` or starting at `to` is out), inside one, and none.
            let ranges: [(Int64, Int64)] = [
                (startMs, startMs + 8000), (startMs + 4000, startMs + 4001), (startMs + 3999, startMs + 8001),
                (startMs - 10_000, startMs), (startMs + 40_000, startMs + 50_000), (0, .max),
            ]
            for (from, to) in ranges {
                let expected = written.filter { $0.endMs > from && $0.startMs < to }
                #expect(try archive.records(fromMs: from, toMs: to) == expected, "\(from - startMs)..<\(to - startMs)")
                #expect(archive.cachedRecords(fromMs: from, toMs: to) == expected, "\(from - startMs)..<\(to - startMs) from memory")
            }
            #expect(
                try archive.records(fromMs: startMs + 3999, toMs: startMs + 8001).map(\.startMs) == [0, 4000, 8000].map { startMs + $0 })
            let initID = try #require(try archive.records(fromMs: 0, toMs: .max).first?.initID)
            #expect(archive.cachedInitSegment(initID) == nil)
            let bytes = try #require(try archive.initSegment(initID))
            #expect(bytes == fakeInit() && archive.cachedInitSegment(initID) == bytes)
            #expect(try archive.initSegment("00000000") == nil && archive.cachedInitSegment("00000000") == nil)
        }
    }

    @Test func aSegmentLayoutIsKeptForItsContentAndNotForAReplacement() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let initID = try archive.storeInit(fakeInit())
            let startMs: Int64 = 1_700_000_000_000
            let first = try archive.write(
                fragments: [fakeFragment(keyframe: true, size: 10_000, fill: 1)], startMs: startMs, durationMs: 4000, initID: initID)
            #expect(archive.cachedSegmentLayout(first) == nil)
            let layout = try archive.segmentLayout(first)
            #expect(archive.cachedSegmentLayout(first) == layout)
            // Other bytes at the same start (the same file name): the kept layout is not the new file's.
            let replaced = try archive.write(
                fragments: [fakeFragment(keyframe: true, size: 7000, fill: 2)], startMs: startMs, durationMs: 4000, initID: initID)
            #expect(archive.path(of: replaced) == archive.path(of: first))
            #expect(archive.cachedSegmentLayout(replaced) == nil)
            let fresh = try archive.segmentLayout(replaced)
            #expect(fresh != layout && fresh.parts.reduce(0) { $0 + $1.length } == replaced.bytes)
            // At most layoutCacheCount layouts are kept: the oldest goes first.
            let more = try writeSegments(archive, count: StreamArchive.layoutCacheCount, startMs: startMs + 10_000)
            for record in more { _ = try archive.segmentLayout(record) }
            #expect(archive.cachedSegmentLayout(replaced) == nil)
            #expect(archive.cachedSegmentLayout(try #require(more.last)) != nil)
        }
    }

    @Test(arguments: ["a\"b\\c\nd\u{1}é😀", "init-0a1b2c3d", "\"", "\\", ""])
    func anArchiveMarkerReadsBackWhateverItsInitIDHolds(initID: String) throws {
        let record = SegmentRecord(
            startMs: 1_700_000_000_000, durationMs: 2500, bytes: 10, initID: initID, sha256: Array(repeating: 0xab, count: 32))
        var box = ArchiveMarker(record).box()
        #expect(box.readInteger(as: UInt32.self).map(Int.init) == box.readableBytes + 4)
        #expect(box.readString(length: 4) == "skip")
        let marker = try #require(ArchiveMarker(payload: box))
        #expect(marker == ArchiveMarker(record))
        #expect(marker.initID == record.initID && marker.sha256 == record.sha256Hex)
    }

    @Test func writtenSegmentsSurviveReopeningWithTheirChecksums() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cams/one")
            // Across midnight: the segments land in two day directories.
            let written = try writeSegments(archive, count: 10, startMs: 1_795_305_600_000 - 20_000)
            #expect(archive.ranges() == [ArchiveRange(fromMs: written[0].startMs, toMs: written[9].endMs)])
            let reopened = try StreamArchive.open(root: root, name: "cams/one")
            let records = try reopened.records(fromMs: 0, toMs: Int64.max)
            #expect(records == written)
            for record in records { #expect(try fileSHA256(reopened.path(of: record)) == record.sha256Hex) }
            #expect(reopened.totalBytes == written.reduce(0) { $0 + $1.bytes })
            #expect(
                try reopened.records(fromMs: written[3].startMs + 1, toMs: written[5].startMs).map(\.startMs)
                    == [written[3].startMs, written[4].startMs])
        }
    }

    @Test func aCrashLeavesNothingHalfWrittenAndLosesNoCompletedSegment() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let written = try writeSegments(archive, count: 5, startMs: 1_700_000_000_000)
            let day = "\(root)/cam/\(written[0].dayName)"
            // A torn index record, a renamed-but-unindexed segment, and a half-written temporary file.
            let index = FileHandle(forWritingAtPath: "\(day)/index.bin")!
            index.seekToEndOfFile()
            index.write(Data([1, 2, 3, 4, 5, 6, 7]))
            index.closeFile()
            let orphan = Data(repeating: 0x42, count: 5000)
            let orphanStart = written[4].endMs
            try orphan.write(to: URL(fileURLWithPath: "\(day)/\(orphanStart)-4000-\(written[0].initID).m4s"))
            try Data(repeating: 0, count: 100).write(
                to: URL(fileURLWithPath: "\(day)/\(orphanStart + 4000)-4000-\(written[0].initID).m4s.tmp"))

            let recovered = try StreamArchive.open(root: root, name: "cam")
            let records = try recovered.records(fromMs: 0, toMs: Int64.max)
            #expect(Array(records.prefix(5)) == written)
            #expect(records.count == 6)
            #expect(records.last?.startMs == orphanStart)
            #expect(records.last?.sha256Hex == sha256Hex(Array(orphan)))
            #expect(!FileManager.default.fileExists(atPath: "\(day)/\(orphanStart + 4000)-4000-\(written[0].initID).m4s.tmp"))
            #expect(FileManager.default.contents(atPath: "\(day)/index.bin")?.count == 6 * 56)
            // And again: recovery is idempotent.
            #expect(try StreamArchive.open(root: root, name: "cam").records(fromMs: 0, toMs: Int64.max) == records)
        }
    }

    @Test func aReaderBesideTheRecorderChangesNothingOfItsFiles() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let written = try writeSegments(archive, count: 3, startMs: 1_700_000_000_000)
            let day = "\(root)/cam/\(written[0].dayName)"
            // The recorder is mid-write: a temporary segment file, and half of the next index record appended.
            let temporary = "\(day)/\(written[2].endMs)-4000-\(written[0].initID).m4s.1a2b.tmp"
            try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: temporary))
            let index = try #require(FileHandle(forWritingAtPath: "\(day)/index.bin"))
            index.seekToEndOfFile()
            index.write(Data([1, 2, 3, 4, 5, 6, 7]))
            index.closeFile()
            let reader = try StreamArchive.openForReading(root: root, name: "cam")
            #expect(try reader.records(fromMs: 0, toMs: .max) == written, "the half record is not listed")
            #expect(FileManager.default.fileExists(atPath: temporary), "the recorder's temporary file is left alone")
            #expect(FileManager.default.contents(atPath: "\(day)/index.bin")?.count == 3 * 56 + 7, "the index is not cut")
        }
    }

    @Test func anOutageIsTwoRangesAndThePlaylistHasADiscontinuity() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let before = try writeSegments(archive, count: 3, startMs: 1_700_000_000_000)
            let after = try writeSegments(archive, count: 2, startMs: before[2].endMs + 10_000)
            #expect(archive.ranges().count == 2)
            let playlist = ArchivePlaylist.render(try archive.records(fromMs: 0, toMs: Int64.max), live: false)
            #expect(playlist.components(separatedBy: "#EXT-X-DISCONTINUITY").count == 2)
            #expect(playlist.components(separatedBy: "#EXT-X-PROGRAM-DATE-TIME:").count == 3)
            #expect(playlist.contains("archive/seg-\(after[0].startMs).m4s"))
            #expect(playlist.hasSuffix("#EXT-X-ENDLIST\n"))
            #expect(!ArchivePlaylist.render(before, live: true).contains("ENDLIST"))
            #expect(UTCTime.iso8601(ms: 1_700_000_000_123) == "2023-11-14T22:13:20.123Z")
        }
    }

    /// A segment is found by its exact start (a binary search of its day), at a day's first millisecond too; a
    /// start between segments finds none; writing a start again stores one record for it, never two.
    @Test func aSegmentIsFoundByItsExactStartAndAStartIsStoredOnce() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let midnight: Int64 = 1_700_006_400_000  // 2023-11-15T00:00:00Z
            #expect(SegmentRecord.dayName(ofMs: midnight) != SegmentRecord.dayName(ofMs: midnight - 1))
            let before = try writeSegments(archive, count: 40, startMs: midnight - 40 * 3000, durationMs: 3000)
            let after = try writeSegments(archive, count: 40, startMs: midnight, durationMs: 2500)
            for record in before + after {
                #expect(try archive.record(startingAt: record.startMs) == record)
                #expect(try archive.record(startingAt: record.startMs + 1) == nil)
            }
            #expect(try archive.record(startingAt: midnight - 1) == nil)
            let count = archive.segmentCount
            let initID = try #require(after.first?.initID)
            // The same bytes again: nothing is added.
            let again = try archive.write(
                fragments: [fakeFragment(keyframe: true, size: 3000, fill: UInt8(truncatingIfNeeded: midnight / 1000))], startMs: midnight,
                durationMs: 2500, initID: initID)
            #expect(again == after[0])
            #expect(archive.segmentCount == count)
            // Other bytes at the same start replace the segment.
            let replaced = try archive.write(
                fragments: [fakeFragment(keyframe: true, size: 2000, fill: 0x77)], startMs: midnight, durationMs: 2500, initID: initID)
            #expect(archive.segmentCount == count)
            #expect(try archive.record(startingAt: midnight) == replaced)
            #expect(replaced.sha256 != after[0].sha256)
            #expect(try StreamArchive.open(root: root, name: "cam").record(startingAt: midnight) == replaced)
        }
    }

    @Test func aClockThatJumpsBackIsOrderedAndCounted() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            try writeSegments(archive, count: 3, startMs: 1_700_000_100_000)
            try writeSegments(archive, count: 2, startMs: 1_700_000_000_000)
            let starts = try archive.records(fromMs: 0, toMs: Int64.max).map(\.startMs)
            #expect(starts == starts.sorted())
            #expect(archive.overlaps == 1)
        }
    }
}

/// Runs `body` with a new temporary directory path and removes it afterwards.
func withTemporaryDirectorySync<T>(_ body: (String) throws -> T) throws -> T {
    let url = try makeTemporaryDirectory(prefix: "estuary-dvr")
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}
