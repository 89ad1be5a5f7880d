/// Why a playlist could not be read, naming the line or tag at fault.
public enum HLSPlaylistError: Error, Equatable, CustomStringConvertible {
    /// The text does not start with `#EXTM3U`.
    case notAPlaylist
    /// A tag's value could not be read.
    case invalidTag(line: Int, tag: String, reason: String)
    /// The playlist lists neither segments nor variants.
    case empty

    public var description: String {
        switch self {
        case .notAPlaylist: "not an HLS playlist (no #EXTM3U first line)"
        case .invalidTag(let line, let tag, let reason): "line \(line): \(tag): \(reason)"
        case .empty: "the playlist lists neither segments nor variant streams"
        }
    }
}
