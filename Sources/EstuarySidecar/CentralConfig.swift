import EstuaryConfig

/// The whole central configuration at one moment: streams, dynamic-name templates, episodes, declared nodes
/// and the defaults. It is what an upstream delivers, what the replica stores and what the sidecar serves from.
public struct CentralConfig: Sendable, Equatable {
    /// Streams by key.
    public var streams: [StreamKey: CentralStream]
    /// Dynamic-name templates, longest prefix first.
    public var templates: [StreamTemplate]
    /// Episodes by id.
    public var episodes: [String: CentralEpisode]
    /// Nodes declared in the configuration (static assignment, advertised addresses), by name.
    public var nodes: [String: CentralNode]
    /// The failback policy of streams that name none. Default ``FailbackPolicy/stay``.
    public var failback: FailbackPolicy

    /// Creates a configuration.
    public init(
        streams: [CentralStream] = [], templates: [StreamTemplate] = [], episodes: [CentralEpisode] = [],
        nodes: [CentralNode] = [], failback: FailbackPolicy = .stay
    ) {
        self.streams = Dictionary(streams.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
        self.templates = templates.sorted { $0.prefix.count > $1.prefix.count }
        self.episodes = Dictionary(episodes.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.nodes = Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.failback = failback
    }

    /// The streams of one role, sorted by name.
    public func streams(role: String) -> [CentralStream] {
        streams.values.filter { $0.role == role }.sorted { $0.name < $1.name }
    }

    /// The template whose prefix matches `name` best, for a role.
    public func template(for name: String, role: String) -> StreamTemplate? {
        templates.first { $0.role == role && name.hasPrefix($0.prefix) }
    }

    /// The failback policy in force for a stream.
    public func failback(of stream: CentralStream) -> FailbackPolicy {
        stream.failback ?? failback
    }

    /// The episodes of a stream that match `/episodes`' filters, oldest first.
    public func episodes(of stream: String, openedBefore: Int64?, closedAfter: Int64?) -> [CentralEpisode] {
        episodes.values.filter { $0.stream == stream && $0.matches(openedBefore: openedBefore, closedAfter: closedAfter) }
            .sorted { ($0.openedAt, $0.id) < ($1.openedAt, $1.id) }
    }
}
