import EstuaryDVR
import EstuaryTestSupport
import NIOCore
import Testing

@Suite struct ArchiveImporterTests {
    /// The archive M4F of `records` as a node serves it: init at each change, a marker before each segment.
    func export(_ archive: StreamArchive, _ records: [SegmentRecord]) throws -> ByteBuffer {
        var out = ByteBuffer()
        var currentInit: String?
        for record in records {
            if record.initID != currentInit, var initBytes = try archive.initSegment(record.initID) {
                out.writeBuffer(&initBytes)
                currentInit = record.initID
            }
            var marker = ArchiveMarker(record).box()
            out.writeBuffer(&marker)
            var bytes = try archive.segmentBytes(record)
            out.writeBuffer(&bytes)
        }
        return out
    }

    func importAll(_ bytes: ByteBuffer, splits: [Int], into archive: StreamArchive) throws -> (stored: Int, rejected: Int, truncated: Bool)
    {
        var importer = ArchiveImporter()
        var events: [ArchiveImporter.Event] = []
        var offset = 0
        for size in splits {
            guard let slice = bytes.getSlice(at: bytes.readerIndex + offset, length: size) else { break }
            events += try importer.feed(slice)
            offset += size
        }
        events += importer.finish()
        var stored = 0
        var rejected = 0
        var truncated = false
        var currentInit: String?
        for event in events {
            switch event {
            case .initialization(let bytes): currentInit = try archive.storeInit(bytes)
            case .segment(let marker, let bytes):
                #expect(currentInit == marker.initID)
                do {
                    let result = try archive.importSegment(
                        parts: bytes, startMs: marker.startMs, durationMs: marker.durationMs, initID: marker.initID, sha256: marker.sha256)
                    if !result.existed { stored += 1 }
                } catch {
                    rejected += 1
                }
            case .truncated: truncated = true
            }
        }
        return (stored, rejected, truncated)
    }

    @Test func aReplicatedArchiveIsIdenticalSegmentBySegmentInAnySplit() throws {
        try withTemporaryDirectorySync { root in
            let primary = try StreamArchive.open(root: "\(root)/a", name: "cam")
            let written = try writeSegments(primary, count: 12, startMs: 1_700_000_000_000, size: 20_000)
            let body = try export(primary, written)
            let pattern = ChunkPattern.random(seed: 11, maxSize: 7000).chunks(of: Array(body.readableBytesView)).map(\.readableBytes)
            let secondary = try StreamArchive.open(root: "\(root)/b", name: "cam")
            let outcome = try importAll(body, splits: pattern, into: secondary)
            #expect(outcome.stored == 12 && outcome.rejected == 0 && !outcome.truncated)
            let copied = try secondary.records(fromMs: 0, toMs: .max)
            #expect(copied.map(\.sha256Hex) == written.map(\.sha256Hex))
            #expect(copied.map(\.startMs) == written.map(\.startMs))
            // Importing the same body again stores nothing new.
            #expect(try importAll(body, splits: [body.readableBytes], into: secondary).stored == 0)
            #expect(try secondary.records(fromMs: 0, toMs: .max).count == 12)
        }
    }

    @Test func aTruncatedBodyKeepsEveryWholeSegment() throws {
        try withTemporaryDirectorySync { root in
            let primary = try StreamArchive.open(root: "\(root)/a", name: "cam")
            let written = try writeSegments(primary, count: 6, startMs: 1_700_000_000_000, size: 20_000)
            let body = try export(primary, written)
            // Cut in the middle of the fourth segment's mdat.
            let cut = body.readableBytes / 2 + 5_000
            let secondary = try StreamArchive.open(root: "\(root)/b", name: "cam")
            let outcome = try importAll(body, splits: [cut], into: secondary)
            let copied = try secondary.records(fromMs: 0, toMs: .max)
            #expect(outcome.truncated)
            #expect(!copied.isEmpty && copied.count < 6)
            #expect(copied.map(\.sha256Hex) == Array(written.prefix(copied.count)).map(\.sha256Hex))
        }
    }

    @Test func aDamagedSegmentIsRejectedAndTheOthersStored() throws {
        try withTemporaryDirectorySync { root in
            let primary = try StreamArchive.open(root: "\(root)/a", name: "cam")
            let written = try writeSegments(primary, count: 4, startMs: 1_700_000_000_000, size: 2_000)
            var body = try export(primary, written)
            // Flip one byte inside the third segment's mdat.
            let offset = body.readerIndex + body.readableBytes * 5 / 8
            body.setInteger(body.getInteger(at: offset, as: UInt8.self)! ^ 0xFF, at: offset)
            let secondary = try StreamArchive.open(root: "\(root)/b", name: "cam")
            let outcome = try importAll(body, splits: [body.readableBytes], into: secondary)
            #expect(outcome.rejected == 1 && outcome.stored == 3)
        }
    }
}
