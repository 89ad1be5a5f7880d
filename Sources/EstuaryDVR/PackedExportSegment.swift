import EstuaryMP4
import NIOCore
import Synchronization

/// A stored segment as it goes into an `.mp4` export without its media being rewritten: a few runs, each one new
/// `moof` that gathers the track fragments of consecutive stored fragments (decode times rebased by an
/// ``ExportTimeline``, data offsets pointing past the header into the stored bytes), then one `mdat` whose payload is
/// the run's range of the stored segment file, unchanged. The ranges cover the file, so it goes out whole with
/// sendfile; its own `styp`, `prft` and `moof` boxes ride inside the `mdat`s as bytes no sample points at.
///
/// A segment whose tracks are back to back in time is one run. A new run starts at each stored fragment where a
/// track's decode time does not follow on from its previous fragment (a gap, or a source whose timestamps jumped):
/// players such as ffmpeg time a second `traf` of a track in one `moof` from the end of the first, not from its
/// `tfdt`, so a gap inside one `moof` would be lost.
///
/// Guarantees: made once per stored segment (its header templates and offsets do not depend on the request; only
/// the sequence numbers and the rebased decode times do), and kept with the segment's layout
/// (``StreamArchive/segmentLayout(_:)``). Nil when a fragment is not in the form the packing needs (every `traf`
/// holds only `tfhd` with default-base-is-moof and no explicit base, `tfdt`, and `trun`s with a data offset and
/// per-sample durations and sizes, as ``FragmentWriter`` writes them), when a track's fragments inside one stored
/// `moof` are not back to back, when a fragment's samples lie outside its run's range of the file, or when a size or
/// data offset does not fit its 32-bit field: the caller then exports the segment's own boxes, rebased in place.
public struct PackedExportSegment: Sendable, Equatable {
    /// The most segments an export packs (about half an hour to an hour of archive): the plan needs every segment's
    /// layout before the answer starts (read once, then kept: ``StreamArchive/layoutCacheCount``).
    public static let segmentLimit = 512

    /// One `moof` + `mdat` of the export.
    public struct Run: Sendable, Equatable {
        /// `moof` (sequence 0, decode times as stored, data offsets final) and the `mdat` header.
        fileprivate var template: ByteBuffer
        /// Where the `tfdt` values sit in ``template``.
        fileprivate var decodeTimes: [DecodeTimeField]
        /// The bytes of the stored segment file that this run's `mdat` carries.
        public let fileRange: Range<Int>

        /// The last header made: the same export is asked again and again (a player's ranges, readers of the same
        /// hour), so it is made anew only for another sequence number or timeline.
        private let last = LastHeader()

        /// The bytes before the file range: the `moof` and the `mdat` header.
        public var headerSize: Int { template.readableBytes }

        public static func == (lhs: Run, rhs: Run) -> Bool {
            lhs.template == rhs.template && lhs.decodeTimes == rhs.decodeTimes && lhs.fileRange == rhs.fileRange
        }

        fileprivate init(template: ByteBuffer, decodeTimes: [DecodeTimeField], fileRange: Range<Int>) {
            self.template = template
            self.decodeTimes = decodeTimes
            self.fileRange = fileRange
        }

        /// The header numbered `sequence`, its decode times rebased by `timeline`.
        public func header(sequence: UInt32, timeline: ExportTimeline) -> ByteBuffer {
            if let kept = last.value.withLock({ $0 }), kept.sequence == sequence, kept.timeline == timeline { return kept.header }
            let header = make(sequence: sequence, timeline: timeline)
            last.value.withLock { $0 = (sequence, timeline, header) }
            return header
        }

        private func make(sequence: UInt32, timeline: ExportTimeline) -> ByteBuffer {
            var header = template
            header.setInteger(sequence, at: header.readerIndex + 20)
            for field in decodeTimes {
                let at = header.readerIndex + field.at
                if field.wide, let value = header.getInteger(at: at, as: UInt64.self) {
                    header.setInteger(timeline.rebased(value, track: field.trackID), at: at)
                } else if !field.wide, let value = header.getInteger(at: at, as: UInt32.self) {
                    header.setInteger(UInt32(truncatingIfNeeded: timeline.rebased(UInt64(value), track: field.trackID)), at: at)
                }
            }
            return header
        }
    }

    /// A run's last header, shared by the copies of the run (the layout cache hands out copies).
    private final class LastHeader: Sendable {
        let value = Mutex<(sequence: UInt32, timeline: ExportTimeline, header: ByteBuffer)?>(nil)
    }

    /// A track's first decode time in the segment, as stored.
    public struct TrackOrigin: Sendable, Equatable {
        public var trackID: UInt32
        public var decodeTime: UInt64
    }

    fileprivate struct DecodeTimeField: Sendable, Equatable {
        var trackID: UInt32
        var at: Int
        var wide: Bool
    }

    /// The runs, in file order; their file ranges cover the stored file.
    public let runs: [Run]
    /// Each track's first decode time, in the order tracks first appear: what an ``ExportTimeline`` learns from.
    public let origins: [TrackOrigin]

    /// The exported size: every run's header and the stored file.
    public var exportedBytes: Int { runs.reduce(0) { $0 + $1.headerSize + $1.fileRange.count } }

    /// Packs the segment laid out as `layout` (a file of `segmentBytes` bytes); nil when it cannot be packed.
    public init?(_ layout: [SegmentPart], segmentBytes: Int) {
        guard let fragments = Self.fragments(layout), !fragments.isEmpty else { return nil }
        // Group fragments into runs: a new one where a track does not follow on from its previous fragment.
        var groups: [(start: Int, trafs: [TrackFragment])] = []
        var ends: [UInt32: UInt64] = [:]
        var origins: [TrackOrigin] = []
        for fragment in fragments {
            var seen: Set<UInt32> = []
            var jumps = false
            for traf in fragment.trafs {
                let track = traf.timing.trackID
                if seen.insert(track).inserted {
                    if let end = ends[track] {
                        if end != traf.timing.decodeTime { jumps = true }
                    } else {
                        origins.append(TrackOrigin(trackID: track, decodeTime: traf.timing.decodeTime))
                    }
                } else if ends[track] != traf.timing.decodeTime {
                    return nil
                }
                ends[track] = traf.timing.decodeTime &+ traf.timing.duration
            }
            if groups.isEmpty {
                groups.append((0, fragment.trafs))
            } else if jumps {
                groups.append((fragment.fileOffset, fragment.trafs))
            } else {
                groups[groups.count - 1].trafs += fragment.trafs
            }
        }
        var runs: [Run] = []
        for (index, group) in groups.enumerated() {
            let end = index + 1 < groups.count ? groups[index + 1].start : segmentBytes
            guard let run = Self.run(group.trafs, fileRange: group.start..<end) else { return nil }
            runs.append(run)
        }
        self.runs = runs
        self.origins = origins
    }

    /// What an export of `records` needs before it answers: each segment's packing (nil for one that is not
    /// packed), and the timeline's origins, learnt from all segments in order (a range that starts later rebases the
    /// same way). Nil when the export is longer than ``segmentLimit``: it is then rebased in place and reads only the
    /// layouts it sends. Blocking (reads layouts not in memory): call it on the I/O pool.
    public static func plan(
        _ records: [SegmentRecord], in archive: StreamArchive
    ) throws(DVRError) -> (segments: [PackedExportSegment?], timeline: ExportTimeline)? {
        guard records.count <= segmentLimit else { return nil }
        var layouts: [SegmentLayout] = []
        layouts.reserveCapacity(records.count)
        for record in records {
            if let kept = archive.cachedSegmentLayout(record) {
                layouts.append(kept)
            } else {
                layouts.append(try archive.segmentLayout(record))
            }
        }
        return plan(layouts)
    }

    /// ``plan(_:in:)`` of segments whose layouts are at hand.
    public static func plan(_ layouts: [SegmentLayout]) -> (segments: [PackedExportSegment?], timeline: ExportTimeline) {
        var timeline = ExportTimeline()
        for layout in layouts {
            if let packed = layout.packed { timeline.learn(packed) } else { timeline.learn(layout.parts) }
        }
        return (layouts.map(\.packed), timeline)
    }

    /// The run of `trafs` (in file order) carrying `fileRange` of the stored file; nil when a size or offset does
    /// not fit.
    private static func run(_ trafs: [TrackFragment], fileRange: Range<Int>) -> Run? {
        let moofSize = 8 + 16 + trafs.reduce(0) { $0 + $1.bytes.readableBytes }
        let size = moofSize + 8
        guard moofSize <= Int(UInt32.max), fileRange.count + 8 <= Int(UInt32.max) else { return nil }
        var header = ByteBuffer()
        header.reserveCapacity(size)
        header.writeInteger(UInt32(moofSize))
        header.writeInteger(Self.moof)
        header.writeInteger(UInt32(16))
        header.writeInteger(Self.mfhd)
        header.writeInteger(UInt32(0))
        header.writeInteger(UInt32(0))
        var decodeTimes: [DecodeTimeField] = []
        for traf in trafs {
            var copy = traf.bytes
            let start = header.writerIndex
            header.writeBuffer(&copy)
            // Sample data sits where it was in the stored file; the run's range of it starts right after this header.
            let shift = size + traf.moofOffset - fileRange.lowerBound
            for field in traf.fields {
                switch field {
                case .decodeTime(let trackID, let at, let wide):
                    decodeTimes.append(DecodeTimeField(trackID: trackID, at: start + at, wide: wide))
                case .dataOffset(let at, let bytes):
                    // The samples must lie in the run's range of the file (a segment imported in this form but laid
                    // out otherwise is not packed), and the moved offset must fit its field.
                    guard let value = header.getInteger(at: start + at, as: Int32.self),
                        traf.moofOffset + Int(value) >= fileRange.lowerBound,
                        traf.moofOffset + Int(value) + bytes <= fileRange.upperBound,
                        let shifted = Int32(exactly: Int(value) + shift)
                    else { return nil }
                    header.setInteger(shifted, at: start + at)
                }
            }
        }
        header.writeInteger(UInt32(8 + fileRange.count))
        header.writeInteger(Self.mdat)
        return Run(template: header, decodeTimes: decodeTimes, fileRange: fileRange)
    }

    /// A stored fragment: the file offset of its `moof` and its `traf`s.
    private struct Fragment {
        var fileOffset: Int
        var trafs: [TrackFragment]
    }

    /// One stored `traf`: its bytes, the file offset of the `moof` holding it (its data offsets count from there),
    /// the fields the header rewrites (at offsets within `bytes`), and its timing.
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
        /// A `trun`'s data offset, and the bytes of its samples.
        case dataOffset(at: Int, bytes: Int)
    }

    /// Every `moof` of the segment in order, or nil when one is not in the packable form.
    private static func fragments(_ layout: [SegmentPart]) -> [Fragment]? {
        var fragments: [Fragment] = []
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
                    let fileOffset = partStart + position - bytes.readerIndex
                    guard let trafs = trackFragments(inMoof: bytes, at: position, size: size, fileOffset: fileOffset) else {
                        return nil
                    }
                    fragments.append(Fragment(fileOffset: fileOffset, trafs: trafs))
                }
                position += size
            }
        }
        return fragments
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
        return trafs.isEmpty ? nil : trafs
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
                // A data offset, per-sample durations (0x100) and sizes (0x200); each entry holds 4 bytes per field
                // present, the duration first, then the size.
                guard trackID != nil, flags & 0x1 != 0, flags & 0x300 == 0x300, size32 >= 20,
                    let count = traf.getInteger(at: position + 12, as: UInt32.self)
                else { return nil }
                let entries = position + 20 + (flags & 0x4 != 0 ? 4 : 0)
                let entrySize = 4 * (flags & 0xF00).nonzeroBitCount
                guard Int(count) <= (position + Int(size32) - entries) / entrySize else { return nil }
                var bytes = 0
                for sample in 0..<Int(count) {
                    duration &+= UInt64(traf.getInteger(at: entries + sample * entrySize, as: UInt32.self) ?? 0)
                    bytes += Int(traf.getInteger(at: entries + sample * entrySize + 4, as: UInt32.self) ?? 0)
                }
                fields.append(.dataOffset(at: position + 16 - base, bytes: bytes))
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
