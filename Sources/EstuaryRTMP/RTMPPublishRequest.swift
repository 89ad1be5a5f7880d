/// What an RTMP client asked to publish: `rtmp://node:1935/APP/NAME?query`.
public struct RTMPPublishRequest: Sendable, Equatable {
    /// The application (`connect`'s `app`, without any query).
    public var app: String
    /// The publishing name given to `publish`, without its query.
    public var name: String
    /// The query of the publishing name, or of `app` (`password=…` lives here).
    public var query: [String: String]
    /// The client's address, for logs and status.
    public var peer: String

    public init(app: String, name: String, query: [String: String], peer: String) {
        self.app = app
        self.name = name
        self.query = query
        self.peer = peer
    }

    /// The client's IP address: ``peer`` without its port (`::1` from `::1:5000`).
    public var peerIP: String {
        guard let colon = peer.lastIndex(of: ":") else { return peer }
        return String(peer[..<colon])
    }

    /// The stream names the publication may map to, most specific first: `APP/NAME`, then `NAME`.
    public var candidateStreams: [String] {
        app.isEmpty ? [name] : ["\(app)/\(name)", name]
    }

    /// Splits `text` at its first `?` into the text and its query parameters.
    static func split(_ text: String) -> (String, [String: String]) {
        guard let mark = text.firstIndex(of: "?") else { return (text, [:]) }
        var query: [String: String] = [:]
        for pair in text[text.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard let key = parts.first else { continue }
            query[String(key)] = parts.count > 1 ? String(parts[1]).removingPercentEncodingIfPossible : ""
        }
        return (String(text[..<mark]), query)
    }
}

extension String {
    /// Percent-decoded, or unchanged when not valid percent-encoding.
    fileprivate var removingPercentEncodingIfPossible: String {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
