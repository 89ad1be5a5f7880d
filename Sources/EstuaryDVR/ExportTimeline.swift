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
