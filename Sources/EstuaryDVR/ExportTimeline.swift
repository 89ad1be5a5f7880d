import EstuaryMP4
import NIOCore

/// Rebases the decode times of stored fragments so that an exported `.mp4` file starts at zero: each
/// track's first `tfdt` becomes 0 and every later one moves by the same amount (`prft` media times too).
/// Stored segments keep the live timeline; only the export is rewritten, in a copy.
///
/// Guarantees: only `tfdt` and `prft` time fields change; box sizes and every other byte stay as stored.
public struct ExportTimeline: Sendable, Equatable {
    private var offsets: [UInt32: UInt64] = [:]

    private static let moof = FourCC("moof").rawValue
    private static let traf = FourCC("traf").rawValue
    private static let tfhd = FourCC("tfhd").rawValue
    private static let tfdt = FourCC("tfdt").rawValue
    private static let prft = FourCC("prft").rawValue

    public init() {}

    /// Takes the origin of every track not seen yet from the first `tfdt` of the segment laid out as `layout` (as
    /// ``rebase(_:)`` does, without rewriting anything): an export learns its origins from all its segments, in order,
    /// before it sends any (``PackedExportSegment``).
    public mutating func learn(_ layout: [SegmentPart]) {
        for part in layout {
            guard case .boxes(let boxes) = part else { continue }
            for field in Self.timeFields(in: boxes, from: boxes.readerIndex, to: boxes.writerIndex) where !field.isPRFT {
                learn(field, in: boxes)
            }
        }
    }

    /// Takes the origin of every track not seen yet from a packed segment's first decode times: the same origins
    /// learning from its layout would take.
    public mutating func learn(_ packed: PackedExportSegment) {
        for origin in packed.origins where offsets[origin.trackID] == nil { offsets[origin.trackID] = origin.decodeTime }
    }

    /// `value`, a decode time of `track`, rebased to the track's origin (unchanged for a track with none yet).
    public func rebased(_ value: UInt64, track: UInt32) -> UInt64 {
        guard let offset = offsets[track] else { return value }
        return value &- min(value, offset)
    }

    /// Returns `segment` with its decode times rebased.
    public mutating func rebase(_ segment: ByteBuffer) -> ByteBuffer {
        var bytes = segment
        let fields = Self.timeFields(in: bytes, from: bytes.readerIndex, to: bytes.writerIndex)
        // Every `tfdt` first (a track's origin comes from its first one); then `prft`, which precedes its `moof`.
        for field in fields where !field.isPRFT { learn(field, in: bytes) }
        for field in fields.filter({ !$0.isPRFT }) + fields.filter(\.isPRFT) {
            if field.wide, let value = bytes.getInteger(at: field.at, as: UInt64.self) {
                bytes.setInteger(rebased(value, track: field.trackID), at: field.at)
            } else if !field.wide, let value = bytes.getInteger(at: field.at, as: UInt32.self) {
                bytes.setInteger(UInt32(truncatingIfNeeded: rebased(UInt64(value), track: field.trackID)), at: field.at)
            }
        }
        return bytes
    }

    /// A decode time in a `tfdt`, or a media time in a `prft`: its track, where it is, and whether it is 64-bit.
    private struct TimeField {
        var trackID: UInt32
        var at: Int
        var wide: Bool
        var isPRFT: Bool
    }

    /// Takes `field`'s value as its track's origin if the track has none yet.
    private mutating func learn(_ field: TimeField, in bytes: ByteBuffer) {
        guard offsets[field.trackID] == nil else { return }
        offsets[field.trackID] =
            field.wide
            ? bytes.getInteger(at: field.at, as: UInt64.self) : bytes.getInteger(at: field.at, as: UInt32.self).map(UInt64.init)
    }

    /// The time fields in `bytes[start..<end]`, in order. Stops at a box that runs past `end` (an `mdat` whose payload
    /// is not in `bytes`). Box types compare as integers: an export reads every fragment it sends, so no text is made
    /// per box.
    private static func timeFields(in bytes: ByteBuffer, from start: Int, to end: Int) -> [TimeField] {
        var fields: [TimeField] = []
        var position = start
        var trackID: UInt32?
        while position + 8 <= end, let size32 = bytes.getInteger(at: position, as: UInt32.self),
            let type = bytes.getInteger(at: position + 4, as: UInt32.self)
        {
            let size = Int(size32)
            guard size >= 8, position + size <= end else { break }
            switch type {
            case Self.moof, Self.traf:
                fields += timeFields(in: bytes, from: position + 8, to: position + size)
            case Self.tfhd:
                trackID = bytes.getInteger(at: position + 12, as: UInt32.self)
            case Self.tfdt:
                guard let trackID, let version = bytes.getInteger(at: position + 8, as: UInt8.self) else { break }
                fields.append(TimeField(trackID: trackID, at: position + 12, wide: version == 1, isPRFT: false))
            case Self.prft:
                if let version = bytes.getInteger(at: position + 8, as: UInt8.self),
                    let reference = bytes.getInteger(at: position + 12, as: UInt32.self)
                {
                    fields.append(TimeField(trackID: reference, at: position + 24, wide: version == 1, isPRFT: true))
                }
            default:
                break
            }
            position += size
        }
        return fields
    }
}
