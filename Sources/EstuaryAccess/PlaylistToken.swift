import Foundation

/// Keeps a playback token across an HLS session: the URIs of a playlist get the `token=` its request
/// carried, so the player presents it again with every segment and init request.
public enum PlaylistToken {
    /// `playlist` with `token=TOKEN` appended to each URI line and each `URI="…"` attribute.
    public static func append(_ token: String, to playlist: String) -> String {
        let encoded = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? ""
        let parameter = "token=\(encoded)"
        func withToken(_ uri: Substring) -> String {
            uri.contains("?") ? "\(uri)&\(parameter)" : "\(uri)?\(parameter)"
        }
        var lines: [String] = []
        for line in playlist.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty {
                lines.append("")
            } else if !line.hasPrefix("#") {
                lines.append(withToken(line))
            } else if let start = line.range(of: "URI=\"") {
                let rest = line[start.upperBound...]
                guard let end = rest.firstIndex(of: "\"") else {
                    lines.append(String(line))
                    continue
                }
                lines.append(String(line[..<start.upperBound]) + withToken(rest[..<end]) + String(rest[end...]))
            } else {
                lines.append(String(line))
            }
        }
        return lines.joined(separator: "\n")
    }
}
