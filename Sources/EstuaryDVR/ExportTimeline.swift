import EstuaryMP4
import NIOCore

/// Rebases the decode times of stored fragments so that an exported `.mp4` file starts at zero: each
/// track's first `tfdt` becomes 0 and every later one moves by the same amount (`prft` media times too).
/// Stored segments keep the live timeline; only the export is rewritten, in a copy.
///
/// Guarantees: only `tfdt` and `prft` time fields change; box sizes and every other byte stay as stored.
public struct ExportTimeline: Sendable {
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
            learn(boxes, from: boxes.readerIndex, to: boxes.writerIndex)
        }
    }

    /// Reads the first `tfdt` per track in `bytes[start..<end]` (read only; stops at a box that runs past `end`, an
    /// `mdat` whose payload is the next part).
    private mutating func learn(_ bytes: ByteBuffer, from start: Int, to end: Int) {
        var position = start
        var trackID: UInt32?
        while position + 8 <= end, let size32 = bytes.getInteger(at: position, as: UInt32.self),
            let type = bytes.getInteger(at: position + 4, as: UInt32.self)
        {
            let size = Int(size32)
            guard size >= 8, position + size <= end else { return }
            switch type {
            case Self.moof, Self.traf:
                learn(bytes, from: position + 8, to: position + size)
            case Self.tfhd:
                trackID = bytes.getInteger(at: position + 12, as: UInt32.self)
            case Self.tfdt:
                guard let trackID, offsets[trackID] == nil, let version = bytes.getInteger(at: position + 8, as: UInt8.self)
                else { break }
                offsets[trackID] =
                    version == 1
                    ? bytes.getInteger(at: position + 12, as: UInt64.self)
                    : bytes.getInteger(at: position + 12, as: UInt32.self).map(UInt64.init)
            default:
                break
            }
            position += size
        }
    }

    /// `value`, a decode time of `track`, rebased to the track's origin (unchanged for a track with none yet).
    public func rebased(_ value: UInt64, track: UInt32) -> UInt64 {
        guard let offset = offsets[track] else { return value }
        return value &- min(value, offset)
    }

    /// Returns `segment` with its decode times rebased.
    public mutating func rebase(_ segment: ByteBuffer) -> ByteBuffer {
        var bytes = segment
        var prftFields: [(trackID: UInt32, at: Int, wide: Bool)] = []
        walk(&bytes, from: bytes.readerIndex, to: bytes.writerIndex, prftFields: &prftFields)
        for field in prftFields {
            guard let offset = offsets[field.trackID] else { continue }
            if field.wide, let value = bytes.getInteger(at: field.at, as: UInt64.self) {
                bytes.setInteger(value &- min(value, offset), at: field.at)
            } else if !field.wide, let value = bytes.getInteger(at: field.at, as: UInt32.self) {
                bytes.setInteger(UInt32(truncatingIfNeeded: UInt64(value) &- min(UInt64(value), offset)), at: field.at)
            }
        }
        return bytes
    }

    private mutating func walk(
        _ bytes: inout ByteBuffer, from start: Int, to end: Int, prftFields: inout [(trackID: UInt32, at: Int, wide: Bool)]
    ) {
        var position = start
        var trackID: UInt32?
        // Box types compare as integers: an export rebases every fragment it sends, so no text is made per box.
        while position + 8 <= end, let size32 = bytes.getInteger(at: position, as: UInt32.self),
            let type = bytes.getInteger(at: position + 4, as: UInt32.self)
        {
            let size = Int(size32)
            guard size >= 8, position + size <= end else { return }
            switch type {
            case Self.moof, Self.traf:
                walk(&bytes, from: position + 8, to: position + size, prftFields: &prftFields)
            case Self.tfhd:
                trackID = bytes.getInteger(at: position + 12, as: UInt32.self)
            case Self.tfdt:
                guard let trackID, let version = bytes.getInteger(at: position + 8, as: UInt8.self) else { break }
                if version == 1, let value = bytes.getInteger(at: position + 12, as: UInt64.self) {
                    let offset = offsets[trackID] ?? value
                    offsets[trackID] = offset
                    bytes.setInteger(value &- min(value, offset), at: position + 12)
                } else if let value = bytes.getInteger(at: position + 12, as: UInt32.self) {
                    let offset = offsets[trackID] ?? UInt64(value)
                    offsets[trackID] = offset
                    bytes.setInteger(UInt32(truncatingIfNeeded: UInt64(value) &- min(UInt64(value), offset)), at: position + 12)
                }
            case Self.prft:
                if let version = bytes.getInteger(at: position + 8, as: UInt8.self),
                    let reference = bytes.getInteger(at: position + 12, as: UInt32.self)
                {
                    prftFields.append((reference, position + 24, version == 1))
                }
            default:
                break
            }
            position += size
        }
    }
}
