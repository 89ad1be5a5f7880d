/// Malformed or unsupported M4F (fragmented ISO-BMFF) input, naming the offending box.
public enum M4FError: Error, Equatable, CustomStringConvertible {
    /// A box header declared an impossible size (smaller than its header, or larger than allowed).
    case invalidBoxSize(type: String, size: UInt64)
    /// A box's body did not match its type's layout.
    case malformedBox(type: String, reason: String)
    /// A sample entry this reader cannot turn into a track (`encv`, `Opus`, …).
    case unsupportedSampleEntry(String)
    /// A fragment arrived before any `moov` described its tracks.
    case fragmentBeforeInitialization
    /// A `traf` named a track the `moov` did not declare.
    case unknownTrack(Int)
    /// A sample's bytes lie outside the `mdat` that should hold them.
    case sampleOutsideMediaData(track: Int, offset: Int64, size: Int)
    /// Bytes were skipped to find the next plausible box after damage.
    case skippedBytes(Int)

    public var description: String {
        switch self {
        case .invalidBoxSize(let type, let size): "box '\(type)' has an invalid size \(size)"
        case .malformedBox(let type, let reason): "malformed '\(type)' box: \(reason)"
        case .unsupportedSampleEntry(let entry): "unsupported sample entry '\(entry)'"
        case .fragmentBeforeInitialization: "fragment before any initialization segment (moov)"
        case .unknownTrack(let id): "fragment for undeclared track \(id)"
        case .sampleOutsideMediaData(let track, let offset, let size):
            "sample of track \(track) at offset \(offset) (\(size) bytes) lies outside mdat"
        case .skippedBytes(let count): "skipped \(count) bytes of damaged input to resynchronise"
        }
    }
}
