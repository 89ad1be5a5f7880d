import EstuaryMP4
import NIOCore

/// A stored segment as it goes into an `.mp4` export without its media being rewritten or split: one `moof` that
/// gathers the track fragments of all the segment's fragments (decode times rebased by an ``ExportTimeline``, data
/// offsets pointing past the header into the stored bytes), then one `mdat` whose payload is the stored segment file
/// unchanged. The file goes out whole with sendfile; its own `styp`, `prft` and `moof` boxes ride inside that `mdat`
/// as bytes no sample points at.
///
/// Guarantees: the header's size depends only on the segment's layout; its bytes only on the layout, the sequence
/// number and the timeline's origins. Both are nil when a fragment is not in the form the packing needs (every
/// `traf` holds only `tfhd` with default-base-is-moof and no explicit base, `tfdt`, and `trun`s with a data offset and
/// per-sample durations, as ``FragmentWriter`` writes them), or when a track's fragments are not back to back in time
/// (players such as ffmpeg time a second `traf` of a track in one `moof` from the end of the first, not from its
/// `tfdt`): the caller then exports the segment's own boxes, rebased in place.
public enum PackedExportSegment {
    /// The most segments an export packs (about half an hour to an hour of archive): the plan reads every segment's
    /// layout before the answer starts, and again for each range a player asks.
    public static let segmentLimit = 512

    /// What an export of `records` needs before it answers: each segment's header size (nil for one that is not
    /// packed) for the body's length, and the timeline's origins, learnt from all segments in order (a range that
    /// starts later rebases the same way). Nil when the export is longer than ``segmentLimit``: it is then rebased in
    /// place and reads only the layouts it sends. Blocking (reads layouts not in memory): call it on the I/O pool.
    public static func plan(
        _ records: [SegmentRecord], in archive: StreamArchive
    ) throws(DVRError) -> (headerSizes: [Int?], timeline: ExportTimeline)? {
        guard records.count <= segmentLimit else { return nil }
        var sizes: [Int?] = []
        var timeline = ExportTimeline()
        for record in records {
            let layout: [SegmentPart]
            if let kept = archive.cachedSegmentLayout(record) { layout = kept } else { layout = try archive.segmentLayout(record) }
            sizes.append(headerSize(layout, segmentBytes: record.bytes))
            timeline.learn(layout)
        }
        return (sizes, timeline)
    }

    /// The bytes before the stored file: `moof` and the `mdat` header. Nil when the segment cannot be packed.
    public static func headerSize(_ layout: [SegmentPart], segmentBytes: Int) -> Int? {
        guard let trafs = trackFragments(layout), let size = headerSize(trafs, segmentBytes: segmentBytes) else { return nil }
        return size
    }

    /// The header (`moof` numbered `sequence`, then the `mdat` header) of the segment laid out as `layout`, its
    /// decode times rebased by `timeline`. Nil when the segment cannot be packed.
    public static func header(
        _ layout: [SegmentPart], segmentBytes: Int, sequence: UInt32, timeline: ExportTimeline
    ) -> ByteBuffer? {
        guard let trafs = trackFragments(layout), let size = headerSize(trafs, segmentBytes: segmentBytes) else { return nil }
        let moofSize = size - 8
        var header = ByteBuffer()
        header.reserveCapacity(size)
        header.writeInteger(UInt32(moofSize))
        header.writeInteger(Self.moof)
        header.writeInteger(UInt32(16))
        header.writeInteger(Self.mfhd)
        header.writeInteger(UInt32(0))
        header.writeInteger(sequence)
        for traf in trafs {
            var copy = traf.bytes
            let start = header.writerIndex
            header.writeBuffer(&copy)
            // Sample data sits where it was in the stored file, which starts right after this header.
            let shift = size + traf.moofOffset
            for field in traf.fields {
                switch field {
                case .decodeTime(let trackID, let at, let wide):
                    if wide, let value = header.getInteger(at: start + at, as: UInt64.self) {
                        header.setInteger(timeline.rebased(value, track: trackID), at: start + at)
                    } else if !wide, let value = header.getInteger(at: start + at, as: UInt32.self) {
                        header.setInteger(
                            UInt32(truncatingIfNeeded: timeline.rebased(UInt64(value), track: trackID)), at: start + at)
                    }
                case .dataOffset(let at):
                    guard let value = header.getInteger(at: start + at, as: Int32.self),
                        let shifted = Int32(exactly: Int(value) + shift)
                    else { return nil }
                    header.setInteger(shifted, at: start + at)
                }
            }
        }
        header.writeInteger(UInt32(8 + segmentBytes))
        header.writeInteger(Self.mdat)
        return header
    }

    /// The header's size for `trafs`: nil when a size does not fit its 32-bit field.
    private static func headerSize(_ trafs: [TrackFragment], segmentBytes: Int) -> Int? {
        let moofSize = 8 + 16 + trafs.reduce(0) { $0 + $1.bytes.readableBytes }
        guard moofSize <= Int(UInt32.max), segmentBytes + 8 <= Int(UInt32.max) else { return nil }
        return moofSize + 8
    }

    /// One stored `traf`: its bytes, the file offset of the `moof` holding it (its data offsets count from there),
    /// and the fields the header rewrites, at offsets within `bytes`.
    private struct TrackFragment {
        var bytes: ByteBuffer
        var moofOffset: Int
        var fields: [Field]
        var timing: Timing
    }

    /// A `traf`'s track, its `tfdt` as stored, and the sum of its samples' durations.
    private struct Timing {
        var trackID: UInt32
        var decodeTime: UInt64
        var duration: UInt64
    }

    private enum Field {
        case decodeTime(trackID: UInt32, at: Int, wide: Bool)
        case dataOffset(at: Int)
    }

    /// Every `traf` of the segment's `moof`s in order, or nil when one is not in the packable form.
    private static func trackFragments(_ layout: [SegmentPart]) -> [TrackFragment]? {
        var trafs: [TrackFragment] = []
        var partStart = 0
        for part in layout {
            defer { partStart += part.length }
            guard case .boxes(let bytes) = part else { continue }
            var position = bytes.readerIndex
            while position + 8 <= bytes.writerIndex {
                guard let size32 = bytes.getInteger(at: position, as: UInt32.self),
                    let type = bytes.getInteger(at: position + 4, as: UInt32.self), size32 >= 8
                else { return nil }
                let size = Int(size32)
                // Only an `mdat` runs past its part: its payload is the file part after it.
                guard position + size <= bytes.writerIndex else {
                    guard type == Self.mdat else { return nil }
                    break
                }
                if type == Self.moof {
                    guard
                        let found = trackFragments(
                            inMoof: bytes, at: position, size: size, fileOffset: partStart + position - bytes.readerIndex)
                    else { return nil }
                    trafs += found
                }
                position += size
            }
        }
        // Each track's fragments back to back: one starts where the one before ended.
        var ends: [UInt32: UInt64] = [:]
        for traf in trafs {
            if let end = ends[traf.timing.trackID], end != traf.timing.decodeTime { return nil }
            ends[traf.timing.trackID] = traf.timing.decodeTime &+ traf.timing.duration
        }
        return trafs
    }

    private static func trackFragments(inMoof bytes: ByteBuffer, at moof: Int, size: Int, fileOffset: Int) -> [TrackFragment]? {
        var trafs: [TrackFragment] = []
        var position = moof + 8
        while position + 8 <= moof + size {
            guard let size32 = bytes.getInteger(at: position, as: UInt32.self),
                let type = bytes.getInteger(at: position + 4, as: UInt32.self), size32 >= 8, position + Int(size32) <= moof + size
            else { return nil }
            let boxSize = Int(size32)
            if type == Self.traf {
                guard let traf = bytes.getSlice(at: position, length: boxSize), let (fields, timing) = fields(ofTraf: traf) else {
                    return nil
                }
                trafs.append(TrackFragment(bytes: traf, moofOffset: fileOffset, fields: fields, timing: timing))
            } else if type != Self.mfhd {
                return nil
            }
            position += boxSize
        }
        return trafs
    }

    /// The fields of a whole `traf` (at its reader index) that the header rewrites, and its timing; nil when it is not
    /// packable.
    private static func fields(ofTraf traf: ByteBuffer) -> ([Field], Timing)? {
        var fields: [Field] = []
        var trackID: UInt32?
        var decodeTime: UInt64?
        var duration: UInt64 = 0
        let base = traf.readerIndex
        var position = base + 8
        while position + 8 <= traf.writerIndex {
            guard let size32 = traf.getInteger(at: position, as: UInt32.self),
                let type = traf.getInteger(at: position + 4, as: UInt32.self), size32 >= 12,
                position + Int(size32) <= traf.writerIndex,
                let flags = traf.getInteger(at: position + 8, as: UInt32.self)
            else { return nil }
            switch type {
            case Self.tfhd:
                // default-base-is-moof, no explicit base data offset.
                guard flags & 0x02_0000 != 0, flags & 0x1 == 0, size32 >= 16 else { return nil }
                trackID = traf.getInteger(at: position + 12, as: UInt32.self)
            case Self.tfdt:
                guard let trackID, decodeTime == nil else { return nil }
                let wide = flags >> 24 == 1
                guard size32 >= (wide ? 20 : 16) else { return nil }
                decodeTime =
                    wide
                    ? traf.getInteger(at: position + 12, as: UInt64.self)
                    : traf.getInteger(at: position + 12, as: UInt32.self).map(UInt64.init)
                fields.append(.decodeTime(trackID: trackID, at: position + 12 - base, wide: wide))
            case Self.trun:
                // A data offset, and per-sample durations (0x100); each entry holds 4 bytes per field present.
                guard trackID != nil, flags & 0x1 != 0, flags & 0x100 != 0, size32 >= 20,
                    let count = traf.getInteger(at: position + 12, as: UInt32.self)
                else { return nil }
                fields.append(.dataOffset(at: position + 16 - base))
                let entries = position + 20 + (flags & 0x4 != 0 ? 4 : 0)
                let entrySize = 4 * (flags & 0xF00).nonzeroBitCount
                guard Int(count) <= (position + Int(size32) - entries) / entrySize else { return nil }
                for sample in 0..<Int(count) {
                    duration &+= UInt64(traf.getInteger(at: entries + sample * entrySize, as: UInt32.self) ?? 0)
                }
            default:
                return nil
            }
            position += Int(size32)
        }
        guard let trackID, let decodeTime else { return nil }
        return (fields, Timing(trackID: trackID, decodeTime: decodeTime, duration: duration))
    }

    private static let moof = FourCC("moof").rawValue
    private static let mfhd = FourCC("mfhd").rawValue
    private static let traf = FourCC("traf").rawValue
    private static let tfhd = FourCC("tfhd").rawValue
    private static let tfdt = FourCC("tfdt").rawValue
    private static let trun = FourCC("trun").rawValue
    private static let mdat = FourCC("mdat").rawValue
}
