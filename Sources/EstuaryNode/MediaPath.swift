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
    /// `/{name}/recording_status.json`.
    case recordingStatus(stream: String)
    /// `/{name}/archive-{from}-{duration}.{m3u8|mp4|m4f}`; `from` and `duration` as written (checked by the
    /// handler, which answers 400 naming what is wrong).
    case archive(stream: String, from: String, duration: String, format: ArchiveFormat)
    /// `/{name}/archive/seg-{start_ms}.m4s`: one stored segment (archive HLS).
    case archiveSegment(stream: String, startMs: Int64)
    /// `/{name}/archive/init-{id}.mp4`: a stored init segment (archive HLS).
    case archiveInit(stream: String, id: String)

    /// The three archive exports.
    public enum ArchiveFormat: String, Sendable {
        case m3u8, mp4, m4f
    }

    /// The stream a media path names.
    public var stream: String {
        switch self {
        case .m4f(let stream), .hlsPlaylist(let stream), .mpegts(let stream): stream
        case .hlsInit(let stream, _), .hlsSegment(let stream, _): stream
        case .recordingStatus(let stream), .archive(let stream, _, _, _), .archiveSegment(let stream, _), .archiveInit(let stream, _):
            stream
        }
    }

    /// Parses `/{name}/{endpoint}`; nil if the path is not a media endpoint.
    public init?(path: String) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return nil }
        let stream = String(path[path.index(after: path.startIndex)..<slash])
        let last = path[path.index(after: slash)...]
        guard !stream.isEmpty, !stream.split(separator: "/").contains("..") else { return nil }
        if stream.hasSuffix("/archive") {
            let owner = String(stream.dropLast("/archive".count))
            if !owner.isEmpty, last.hasPrefix("seg-"), last.hasSuffix(".m4s"), let start = Int64(last.dropFirst(4).dropLast(4)) {
                self = .archiveSegment(stream: owner, startMs: start)
                return
            }
            if !owner.isEmpty, last.hasPrefix("init-"), last.hasSuffix(".mp4"), last.count == 17 {
                self = .archiveInit(stream: owner, id: String(last.dropFirst(5).dropLast(4)))
                return
            }
        }
        if last.hasPrefix("archive-"), let dot = last.lastIndex(of: "."),
            let format = ArchiveFormat(rawValue: String(last[last.index(after: dot)...]))
        {
            let range = last[last.index(last.startIndex, offsetBy: 8)..<dot]
            let dash = range.firstIndex(of: "-") ?? range.endIndex
            let duration = dash == range.endIndex ? "" : String(range[range.index(after: dash)...])
            self = .archive(stream: stream, from: String(range[..<dash]), duration: duration, format: format)
            return
        }
        switch last {
        case "recording_status.json": self = .recordingStatus(stream: stream)
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

extension MediaPath {
    /// The protocol named to an `on_play` backend (`proto=`).
    var playbackProtocol: String {
        switch self {
        case .m4f: "m4f"
        case .mpegts: "mpegts"
        case .hlsPlaylist, .hlsInit, .hlsSegment: "hls"
        case .recordingStatus, .archive, .archiveSegment, .archiveInit: "dvr"
        }
    }
}
