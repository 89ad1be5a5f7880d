import Foundation

/// An HLS playlist (RFC 8216) as a client reads it: a master playlist's variants, or a media playlist's
/// segments with their sequence numbers, discontinuities and initialization sections.
///
/// Guarantees: parsing is all-or-nothing (``HLSPlaylistError`` names the line); URIs are kept as written
/// (resolve them with ``resolve(_:against:)``); unknown tags are ignored, as the RFC asks of clients.
public enum HLSPlaylist: Sendable, Equatable {
    case master([Variant])
    case media(MediaPlaylist)

    /// One variant stream of a master playlist.
    public struct Variant: Sendable, Equatable {
        public var uri: String
        public var bandwidth: Int
        public var resolution: String?
    }

    /// A media playlist.
    public struct MediaPlaylist: Sendable, Equatable {
        /// `#EXT-X-TARGETDURATION`, seconds.
        public var targetDuration: Double
        /// `#EXT-X-MEDIA-SEQUENCE`: the sequence number of the first segment.
        public var mediaSequence: Int
        public var segments: [Segment]
        /// `#EXT-X-ENDLIST`: no segment will be added.
        public var ended: Bool
    }

    /// One media segment.
    public struct Segment: Sendable, Equatable {
        public var uri: String
        /// `#EXTINF` duration, seconds.
        public var duration: Double
        public var sequence: Int
        /// An `#EXT-X-DISCONTINUITY` precedes it: timestamps and encoding may change.
        public var discontinuity: Bool
        /// The `#EXT-X-MAP` URI in force (fMP4 segments), if any.
        public var initializationURI: String?
    }

    /// Parses a playlist.
    public static func parse(_ text: String) throws(HLSPlaylistError) -> HLSPlaylist {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard lines.first?.hasPrefix("#EXTM3U") == true else { throw .notAPlaylist }
        var variants: [Variant] = []
        var pendingVariant: (bandwidth: Int, resolution: String?)?
        var segments: [Segment] = []
        var targetDuration = 0.0
        var mediaSequence = 0
        var ended = false
        var pendingDuration: Double?
        var discontinuity = false
        var map: String?
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let number = index + 1
            if line.hasPrefix("#") {
                let (tag, value) = split(line)
                switch tag {
                case "#EXT-X-STREAM-INF":
                    let attributes = attributeList(value)
                    guard let bandwidth = attributes["BANDWIDTH"].flatMap({ Int($0) }) else {
                        throw .invalidTag(line: number, tag: tag, reason: "missing or invalid BANDWIDTH")
                    }
                    pendingVariant = (bandwidth, attributes["RESOLUTION"])
                case "#EXT-X-TARGETDURATION":
                    // 0 is not valid, but some writers (ffmpeg's first fMP4 playlist) put it: it then means "unknown".
                    guard let value = Double(value), value >= 0 else {
                        throw .invalidTag(line: number, tag: tag, reason: "not a positive number")
                    }
                    targetDuration = value
                case "#EXT-X-MEDIA-SEQUENCE":
                    guard let value = Int(value), value >= 0 else {
                        throw .invalidTag(line: number, tag: tag, reason: "not a sequence number")
                    }
                    mediaSequence = value
                case "#EXTINF":
                    let text = value.split(separator: ",", maxSplits: 1).first.map(String.init) ?? ""
                    guard let duration = Double(text), duration >= 0 else {
                        throw .invalidTag(line: number, tag: tag, reason: "invalid duration '\(text)'")
                    }
                    pendingDuration = duration
                case "#EXT-X-DISCONTINUITY":
                    discontinuity = true
                case "#EXT-X-MAP":
                    guard let uri = attributeList(value)["URI"] else { throw .invalidTag(line: number, tag: tag, reason: "missing URI") }
                    map = uri
                case "#EXT-X-ENDLIST":
                    ended = true
                default:
                    break
                }
                continue
            }
            if let variant = pendingVariant {
                variants.append(Variant(uri: line, bandwidth: variant.bandwidth, resolution: variant.resolution))
                pendingVariant = nil
            } else if let duration = pendingDuration {
                segments.append(
                    Segment(
                        uri: line, duration: duration, sequence: mediaSequence + segments.count, discontinuity: discontinuity,
                        initializationURI: map))
                pendingDuration = nil
                discontinuity = false
            }
        }
        if !variants.isEmpty { return .master(variants) }
        guard !segments.isEmpty || lines.contains(where: { $0.hasPrefix("#EXT-X-TARGETDURATION") }) else { throw .empty }
        if targetDuration == 0 { targetDuration = segments.map(\.duration).max() ?? 2 }
        return .media(MediaPlaylist(targetDuration: targetDuration, mediaSequence: mediaSequence, segments: segments, ended: ended))
    }

    /// A URI of the playlist at `base`, made absolute (absolute URIs are returned unchanged).
    public static func resolve(_ uri: String, against base: String) -> String {
        if uri.contains("://") { return uri }
        guard let schemeEnd = base.range(of: "://") else { return uri }
        let afterScheme = base[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
        let origin = String(base[..<authorityEnd])
        if uri.hasPrefix("/") { return origin + uri }
        var path = String(afterScheme[authorityEnd...])
        if let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
        let directory = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "/"
        return origin + directory + uri
    }

    private static func split(_ line: String) -> (String, String) {
        guard let colon = line.firstIndex(of: ":") else { return (line, "") }
        return (String(line[..<colon]), String(line[line.index(after: colon)...]))
    }

    /// `KEY=VALUE,KEY="quoted, value"` into a dictionary.
    static func attributeList(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var key = ""
        var value = ""
        var inKey = true
        var quoted = false
        for character in text {
            if inKey {
                if character == "=" { inKey = false } else if character != "," { key.append(character) }
                continue
            }
            if character == "\"" {
                quoted.toggle()
            } else if character == ",", !quoted {
                result[key.trimmingCharacters(in: .whitespaces)] = value
                key = ""
                value = ""
                inKey = true
            } else {
                value.append(character)
            }
        }
        if !key.isEmpty { result[key.trimmingCharacters(in: .whitespaces)] = value }
        return result
    }
}
