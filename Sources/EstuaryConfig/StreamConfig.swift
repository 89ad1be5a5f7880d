/// One stream's configuration, as DESIGN §2 and Flussonic's API v3 stream schema describe it.
///
/// The memberwise initializer does not validate; ``validate()`` does, and every decoding path
/// (`Decodable`, ``StreamListDecoder``, ``NodeConfig/load(yaml:)``) validates before it returns a stream.
/// Encoding writes the snake_case wire names of DESIGN §2 and plain numbers (seconds, bytes, bits/s).
public struct StreamConfig: Sendable, Equatable, Hashable {
    /// The stream's name: `[A-Za-z0-9_.\-/]{1,128}`, no `..`, no leading, trailing or double `/`.
    public var name: String
    /// Wire name `static`: the stream runs whether or not anyone watches it. Default `true`.
    public var isStatic: Bool
    /// The sources, tried by ``InputConfig/priority`` (lowest first). `publish://` accepts an RTMP publisher.
    public var inputs: [InputConfig]
    /// Recording settings; `nil` means the stream is not recorded.
    public var dvr: DVRConfig?
    /// Wire name `cluster_ingest`: which node captures the stream, when several could.
    public var clusterIngest: ClusterIngestConfig?
    /// Where the stream is pushed to. Empty by default.
    public var pushes: [PushConfig]
    /// The password a publisher must present (for `publish://` inputs); `nil` means none is asked.
    public var password: String?
    /// Wire name `on_play`: the backend asked before a client plays this stream (overrides the node's).
    public var onPlay: String?
    /// Wire name `on_publish`: the backend asked before a publisher is admitted (overrides the node's).
    public var onPublish: String?

    /// Creates a stream configuration with the wire defaults; it is not validated.
    public init(
        name: String,
        isStatic: Bool = true,
        inputs: [InputConfig] = [],
        dvr: DVRConfig? = nil,
        clusterIngest: ClusterIngestConfig? = nil,
        pushes: [PushConfig] = [],
        password: String? = nil,
        onPlay: String? = nil,
        onPublish: String? = nil
    ) {
        self.onPlay = onPlay
        self.onPublish = onPublish
        self.name = name
        self.isStatic = isStatic
        self.inputs = inputs
        self.dvr = dvr
        self.clusterIngest = clusterIngest
        self.pushes = pushes
        self.password = password
    }

    /// The inputs in the order they are tried: by ascending ``InputConfig/priority``, then as listed.
    public var inputsByPriority: [InputConfig] {
        inputs.enumerated().sorted { lhs, rhs in
            lhs.element.priority != rhs.element.priority
                ? lhs.element.priority < rhs.element.priority : lhs.offset < rhs.offset
        }.map(\.element)
    }

    /// Whether an RTMP publisher may publish to this stream (it has a `publish://` input).
    public var acceptsPublish: Bool {
        inputs.contains { $0.scheme == "publish" }
    }
}
