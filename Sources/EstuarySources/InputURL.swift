import Foundation

/// A parsed input URL: scheme, optional user-info, host, port, path and query, split by hand
/// so that schemes Foundation does not know (`m4f`, `udp://@239.0.0.1:1234`) parse the same
/// everywhere.
public struct InputURL: Sendable, Equatable {
    public var scheme: String
    public var userInfo: String?
    public var host: String
    public var port: Int?
    /// The path, starting with "/" (or empty).
    public var path: String
    /// The query without "?" (or empty).
    public var query: String

    public init(parsing text: String) throws(SourceError) {
        guard let schemeEnd = text.range(of: "://") else { throw .invalidURL(text, reason: "missing scheme") }
        scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(text[schemeEnd.upperBound...])
        if let queryStart = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: queryStart)...])
            rest = rest[..<queryStart]
        } else {
            query = ""
        }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        path = String(rest[authorityEnd...])
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            userInfo = info.isEmpty ? nil : String(info)
            authority = authority[authority.index(after: at)...]
        } else {
            userInfo = nil
        }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidURL(text, reason: "unterminated IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) : nil
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let value = Int(authority[authority.index(after: colon)...]), (1...65535).contains(value) else {
                throw .invalidURL(text, reason: "invalid port")
            }
            port = value
        } else {
            host = String(authority)
            port = nil
        }
    }

    /// The value of a query parameter, if present.
    public func queryValue(_ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first.map(String.init) == name { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }
}
