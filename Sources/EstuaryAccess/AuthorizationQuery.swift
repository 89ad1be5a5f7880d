/// What an `on_play` or `on_publish` backend is asked: `GET URL?name=…&ip=…&token=…&proto=…` (publishers'
/// passwords travel as `token`).
public struct AuthorizationQuery: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case play
        case publish
    }

    public var kind: Kind
    public var name: String
    public var ip: String
    public var token: String?
    /// `hls`, `m4f`, `mpegts`, `dvr`, `dvr_hls`, `mp4` (play); `rtmp`, `m4f` (publish).
    public var proto: String

    public init(kind: Kind, name: String, ip: String, token: String?, proto: String) {
        self.kind = kind
        self.name = name
        self.ip = ip
        self.token = token
        self.proto = proto
    }
}
