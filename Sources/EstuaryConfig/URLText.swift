import Foundation

/// Splits URL text into its parts by hand, so that URLs Foundation rejects (`udp://@239.0.0.1:1234`,
/// `publish://`) are still read the way an operator wrote them.
enum URLText {
    /// The lower-case scheme before `://`, or `nil` when there is none or it is not a valid scheme.
    /// Checked byte by byte (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`), all ASCII: walking the
    /// characters with Unicode properties took a fifth of a stream's check at start.
    static func scheme(of url: String) -> String? {
        guard let range = schemeSeparator(in: url) else { return nil }
        let bytes = url.utf8[..<range.lowerBound]
        func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
        guard let first = bytes.first, isLetter(first),
            bytes.allSatisfy({ isLetter($0) || (0x30...0x39).contains($0) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E })
        else { return nil }
        let scheme = url[..<range.lowerBound]
        return bytes.contains(where: { (0x41...0x5A).contains($0) }) ? scheme.lowercased() : String(scheme)
    }

    /// The first `://` of `url`, found byte by byte (a generic substring search costs more than the rest of a
    /// stream's check). The bounds are on ASCII bytes, so they slice `url` itself.
    static func schemeSeparator(in url: String) -> Range<String.Index>? {
        let bytes = url.utf8
        var index = bytes.startIndex
        while let colon = bytes[index...].firstIndex(of: UInt8(ascii: ":")) {
            let rest = bytes[bytes.index(after: colon)...]
            if rest.starts(with: "//".utf8) { return colon..<bytes.index(colon, offsetBy: 3) }
            index = rest.startIndex
        }
        return nil
    }

    /// The parts of `scheme://authority/rest`: `authority` runs up to the first `/`, `?` or `#`.
    static func split(_ url: String) -> (scheme: Substring, authority: Substring, rest: Substring)? {
        guard let separator = schemeSeparator(in: url) else { return nil }
        let afterScheme = url[separator.upperBound...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        return (url[..<separator.lowerBound], afterScheme[..<authorityEnd], afterScheme[authorityEnd...])
    }

    /// The host and port of a URL without its user information: `host:port` of `m4f://key@host:port/x`.
    static func hostAndPort(of url: String) -> Substring? {
        guard let parts = split(url) else { return nil }
        if let at = parts.authority.lastIndex(of: "@") {
            return parts.authority[parts.authority.index(after: at)...]
        }
        return parts.authority
    }

    /// `, got scheme 'ftp'` (or nothing without a scheme) for an error message: the URL itself may hold a secret, its scheme does not.
    static func describe(_ url: String) -> String {
        guard let scheme = scheme(of: url) else { return "" }
        return ", got scheme '\(scheme)'"
    }
}
