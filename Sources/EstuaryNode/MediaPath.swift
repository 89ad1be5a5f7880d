import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources

/// The media endpoints of DESIGN §4.1, parsed from a request path. Stream names may contain
/// "/", so the endpoint is recognised by the path's last component.
public enum MediaPath: Equatable, Sendable {
    case m4f(stream: String)
    case hlsPlaylist(stream: String)
    case hlsInit(stream: String, version: Int)
    case hlsSegment(stream: String, sequence: Int)
    case mpegts(stream: String)

    /// The stream a media path names.
    public var stream: String {
        switch self {
        case .m4f(let stream), .hlsPlaylist(let stream), .mpegts(let stream): stream
        case .hlsInit(let stream, _), .hlsSegment(let stream, _): stream
        }
    }

    /// Parses `/{name}/{endpoint}`; nil if the path is not a media endpoint.
    public init?(path: String) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return nil }
        let stream = String(path[path.index(after: path.startIndex)..<slash])
        let last = path[path.index(after: slash)...]
        guard !stream.isEmpty, !stream.split(separator: "/").contains("..") else { return nil }
        switch last {
        case "m4f": self = .m4f(stream: stream)
        case "index.m3u8": self = .hlsPlaylist(stream: stream)
        case "mpegts": self = .mpegts(stream: stream)
        default:
            if last.hasPrefix("init-"), last.hasSuffix(".mp4"), let version = Int(last.dropFirst(5).dropLast(4)) {
                self = .hlsInit(stream: stream, version: version)
            } else if last.hasPrefix("seg-"), last.hasSuffix(".m4s"), let sequence = Int(last.dropFirst(4).dropLast(4)) {
                self = .hlsSegment(stream: stream, sequence: sequence)
            } else {
                return nil
            }
        }
    }
}
