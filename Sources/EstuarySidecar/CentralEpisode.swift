/// A stretch of a stream's archive that must not be deleted (DESIGN §3 `/episodes`). Times are UTC
/// milliseconds; an open episode has no ``closedAt``.
public struct CentralEpisode: Sendable, Equatable, Codable {
    /// The episode's identifier, unique in the central configuration.
    public var id: String
    /// The stream it protects.
    public var stream: String
    /// Wire name `opened_at`.
    public var openedAt: Int64
    /// Wire name `updated_at`.
    public var updatedAt: Int64
    /// Wire name `closed_at`; `nil` while the episode is open.
    public var closedAt: Int64?

    /// Creates an episode.
    public init(id: String, stream: String, openedAt: Int64, updatedAt: Int64? = nil, closedAt: Int64? = nil) {
        self.id = id
        self.stream = stream
        self.openedAt = openedAt
        self.updatedAt = updatedAt ?? openedAt
        self.closedAt = closedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, stream
        case openedAt = "opened_at"
        case updatedAt = "updated_at"
        case closedAt = "closed_at"
    }

    /// Encodes the wire names; an open episode has `"closed_at": null` (DESIGN §3).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(stream, forKey: .stream)
        try container.encode(openedAt, forKey: .openedAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(closedAt, forKey: .closedAt)
    }

    /// Whether the episode matches `/episodes`' filters: opened before `openedBefore` (seconds) and closed
    /// after `closedAfter` (seconds) or still open. A `nil` filter matches everything.
    public func matches(openedBefore: Int64?, closedAfter: Int64?) -> Bool {
        if let openedBefore, openedAt >= openedBefore * 1000 { return false }
        if let closedAfter, let closedAt, closedAt <= closedAfter * 1000 { return false }
        return true
    }
}
