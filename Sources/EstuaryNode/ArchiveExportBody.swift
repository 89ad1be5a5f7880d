import EstuaryDVR
import NIOCore

/// The body of an `.mp4` or `.m4f` archive export (DESIGN §4.2), decided before the answer starts so that its length
/// is known (players seek, and read the duration of a file with a Content-Length): each piece with its offset.
///
/// `.m4f` is `[init] marker segment …`, the init repeated where the codec parameters change, each stored segment
/// whole. `.mp4` is one init segment, then each stored segment packed (``PackedExportSegment``: per run a new header,
/// then the run's range of the stored file) or, where it cannot be, its own boxes rebased in place; it ends where
/// the codec parameters change (one file has one init segment).
///
/// Guarantees: the pieces are in order, back to back from 0 to ``length``; building one touches no file (the router
/// and ``ArchiveFastPath`` make the same body from the same records, init segments and plan).
struct ArchiveExportBody {
    /// A piece of the body.
    enum Piece {
        /// Bytes in memory (an init segment, an `.m4f` marker).
        case bytes(ByteBuffer)
        /// A packed `.mp4` run's header, made when it is sent.
        case packedHeader(PackedExportSegment.Run, sequence: UInt32)
        /// Bytes `range` of a stored segment file, sent as stored (`.m4f`, or the payload of a packed run).
        case file(SegmentRecord, range: Range<Int>)
        /// A stored segment of an `.mp4` export with its own boxes rebased in place; `first`: the export's first.
        case rebased(SegmentRecord, first: Bool)
    }

    private(set) var pieces: [(offset: Int, length: Int, piece: Piece)] = []
    private(set) var length = 0

    /// The segments an export of `[fromMs, toMs)` serves out of those overlapping it: playback exports (`.mp4`,
    /// `.m3u8`) take those whose middle falls in the range, so that what is served is the range within one segment in
    /// all; `.m4f` (replication) takes every overlapping one.
    static func records(
        _ overlapping: [SegmentRecord], fromMs: Int64, toMs: Int64, format: MediaPath.ArchiveFormat
    ) -> [SegmentRecord] {
        let centred = overlapping.filter { (fromMs..<toMs).contains($0.startMs + $0.durationMs / 2) }
        return format == .m4f || centred.isEmpty ? overlapping : centred
    }

    /// The init segments the body of `records` may hold: an `.mp4` only the first segment's, an `.m4f` each one.
    static func initIDs(_ records: [SegmentRecord], format: MediaPath.ArchiveFormat) -> [String] {
        guard format == .m4f else { return records.first.map { [$0.initID] } ?? [] }
        var seen: Set<String> = []
        return records.map(\.initID).filter { seen.insert($0).inserted }
    }

    /// The segments the body holds, each with the init segment to send before it: an `.mp4` stops where the init
    /// changes, and either stops at an init not in `inits` (unreadable).
    static func parts(
        _ records: [SegmentRecord], format: MediaPath.ArchiveFormat, inits: [String: ByteBuffer]
    ) -> [(initID: String?, record: SegmentRecord)] {
        var parts: [(initID: String?, record: SegmentRecord)] = []
        var currentInit: String?
        for record in records {
            if record.initID != currentInit {
                if format == .mp4 && currentInit != nil { break }
                guard inits[record.initID] != nil else { break }
                currentInit = record.initID
                parts.append((record.initID, record))
            } else {
                parts.append((nil, record))
            }
        }
        return parts
    }

    /// The body of `parts` (from ``parts(_:format:inits:)``); `packing` is the `.mp4` plan (nil: every segment
    /// rebased in place).
    init(
        _ parts: [(initID: String?, record: SegmentRecord)], inits: [String: ByteBuffer], format: MediaPath.ArchiveFormat,
        packing: [PackedExportSegment?]?
    ) {
        var sequence: UInt32 = 0
        for (index, part) in parts.enumerated() {
            if let id = part.initID, let bytes = inits[id] { append(.bytes(bytes), bytes.readableBytes) }
            let record = part.record
            if format == .m4f {
                let marker = ArchiveMarker(record).box()
                append(.bytes(marker), marker.readableBytes)
                append(.file(record, range: 0..<record.bytes), record.bytes)
            } else if let packed = packing?[index] {
                for run in packed.runs {
                    sequence &+= 1
                    append(.packedHeader(run, sequence: sequence), run.headerSize)
                    append(.file(record, range: run.fileRange), run.fileRange.count)
                }
            } else {
                append(.rebased(record, first: index == 0), record.bytes)
            }
        }
    }

    private mutating func append(_ piece: Piece, _ count: Int) {
        pieces.append((length, count, piece))
        length += count
    }

    /// The pieces holding bytes of `range`, each with the part of its own bytes (from its start) that falls in it.
    func pieces(in range: Range<Int>) -> [(part: Range<Int>, piece: Piece)] {
        pieces.compactMap { offset, length, piece in
            let start = max(0, range.lowerBound - offset)
            let end = min(length, range.upperBound - offset)
            return start < end ? (start..<end, piece) : nil
        }
    }
}
