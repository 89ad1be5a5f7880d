/// One source of a stream (wire object in `inputs`).
public struct InputConfig: Sendable, Equatable, Hashable {
    /// The source URL; its scheme is one of ``StreamConfig/supportedInputSchemes``.
    public var url: String
    /// Wire name `source_timeout`: seconds without data before the source is reconnected. Default 10.
    public var sourceTimeout: Int
    /// Lower numbers are tried first. Default 0.
    public var priority: Int
    /// Wire name `cluster_key`: the key for signing requests to this source, when it differs from the node's.
    public var clusterKey: String?

    /// The default of ``sourceTimeout``, in seconds.
    public static let defaultSourceTimeout = 10

    /// The default of ``sourceTimeout`` for an input URL: 180 s for HLS pull (segments arrive seconds apart
    /// and origins stall, as Flussonic allows for), 10 s for everything else.
    public static func defaultSourceTimeout(for url: String) -> Int {
        let scheme = URLText.scheme(of: url)
        return scheme == "hls" || scheme == "hlss" ? 180 : defaultSourceTimeout
    }

    /// Creates an input; it is not validated.
    public init(url: String, sourceTimeout: Int = InputConfig.defaultSourceTimeout, priority: Int = 0, clusterKey: String? = nil) {
        self.url = url
        self.sourceTimeout = sourceTimeout
        self.priority = priority
        self.clusterKey = clusterKey
    }

    /// The URL's scheme in lower case (`"rtsp"` for `rtsp://…`), or `nil` without `scheme://`.
    public var scheme: String? {
        URLText.scheme(of: url)
    }
}
