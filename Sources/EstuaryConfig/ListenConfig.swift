/// The `listen` block: the node's ports.
public struct ListenConfig: Sendable, Equatable {
    /// `http`: the HTTP API, live and archive port. Default 8080.
    public var http: Int
    /// `rtmp`: the RTMP publish port. Default 1935.
    public var rtmp: Int
    /// `replication`: the archive-only listener (DESIGN §4.3); `nil` opens none.
    public var replication: Int?
    /// `https`: the HTTPS listener (same endpoints as `http`, with the `tls` block's certificate); `nil` opens none.
    public var https: Int?

    /// The default HTTP port.
    public static let defaultHTTPPort = 8080
    /// The default RTMP port.
    public static let defaultRTMPPort = 1935

    /// Creates the block; the defaults are those of an absent `listen`.
    public init(
        http: Int = ListenConfig.defaultHTTPPort, rtmp: Int = ListenConfig.defaultRTMPPort, replication: Int? = nil, https: Int? = nil
    ) {
        self.https = https
        self.http = http
        self.rtmp = rtmp
        self.replication = replication
    }

    static func read(from reader: inout ObjectReader) throws(FieldError) -> ListenConfig {
        func port(_ key: String, _ reader: inout ObjectReader) throws(FieldError) -> Int? {
            guard let port = try reader.int(key) else { return nil }
            guard (1...65_535).contains(port) else {
                throw FieldError(field: reader.fieldPath(key), reason: "must be a port within 1…65535, got \(port)")
            }
            return port
        }
        return ListenConfig(
            http: try port("http", &reader) ?? defaultHTTPPort,
            rtmp: try port("rtmp", &reader) ?? defaultRTMPPort,
            replication: try port("replication", &reader),
            https: try port("https", &reader)
        )
    }
}
