/// Builds the query strings of config_external requests: `host=H`, `cursor=C`, `name=a,b,c`.
///
/// Guarantees: ``chunks(names:host:limit:)`` puts every name in exactly one chunk, in the given order, and
/// keeps each chunk's whole query string (`host=…&name=…`) within `limit` bytes unless one name alone
/// exceeds it (then that name travels alone).
public enum NameQuery {
    /// The default bound on a by-name query string: "about a kilobyte" (DESIGN §3, the seed).
    public static let defaultLimit = 1024

    /// `host=H`, percent-encoded.
    public static func host(_ host: String) -> String {
        "host=\(encode(host))"
    }

    /// `host=H&cursor=C`.
    public static func page(host: String, cursor: String?) -> String {
        guard let cursor else { return self.host(host) }
        return "\(self.host(host))&cursor=\(encode(cursor))"
    }

    /// `host=H&name=a,b,c`.
    public static func names(_ names: some Sequence<String>, host: String) -> String {
        "\(self.host(host))&name=\(names.map(encode).joined(separator: ","))"
    }

    /// Splits `names` into groups whose query strings stay within `limit` bytes.
    ///
    /// - Parameter reserved: bytes already used by the configured URL's own query (plus its `&`).
    public static func chunks(names: [String], host: String, limit: Int = defaultLimit, reserved: Int = 0) -> [[String]] {
        let fixed = reserved + self.host(host).utf8.count + "&name=".utf8.count
        var result: [[String]] = []
        var current: [String] = []
        var length = fixed
        for name in names {
            let cost = encode(name).utf8.count + (current.isEmpty ? 0 : 1)
            if !current.isEmpty && length + cost > limit {
                result.append(current)
                current = []
                length = fixed
                length += encode(name).utf8.count
            } else {
                length += cost
            }
            current.append(name)
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// Percent-encodes everything but the unreserved characters of RFC 3986 and `/` (stream names may
    /// hold `/`, which is legal in a query).
    public static func encode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return out
    }
}
