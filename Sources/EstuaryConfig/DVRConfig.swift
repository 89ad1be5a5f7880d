/// A stream's recording settings (wire object `dvr`).
///
/// Zero means "no limit" for ``expiration``, ``storageLimit``, ``diskUsageLimit`` and ``episodesExpiration``.
public struct DVRConfig: Sendable, Equatable, Hashable {
    /// The storage directory; the stream records under `root/{name}/`. An absolute path.
    public var root: String
    /// Seconds of archive to keep (YAML also `"20d"`); 0 keeps everything.
    public var expiration: Int
    /// Wire name `storage_limit`: bytes of archive to keep for this stream (YAML also `"500G"`); 0 is no limit.
    public var storageLimit: Int
    /// Wire name `disk_usage_limit`: the percentage of the disk above which the oldest archive is deleted
    /// (0…100); 0 is no limit.
    public var diskUsageLimit: Int
    /// Wire name `episodes_url`: where episodes are fetched from; `nil` (or `""` on the wire) uses the
    /// configuration backend's `/episodes`.
    public var episodesURL: String?
    /// Wire name `episodes_expiration`: seconds to keep archive covered by an episode; 0 keeps it as long as
    /// the episode exists.
    public var episodesExpiration: Int
    /// Wire name `dvr_replicate` (YAML also `replicate`): fetch missing archive from the input's node.
    public var replicate: Bool
    /// Wire name `replication_port`: the port of the node's archive-only listener to replicate from; `nil`
    /// uses the input's port.
    public var replicationPort: Int?
    /// Wire name `replication_speed`: the replication bandwidth limit in bits per second (YAML also
    /// `"100M"`); `nil` is no limit.
    public var replicationSpeed: Int?

    /// Creates recording settings; they are not validated.
    public init(
        root: String,
        expiration: Int = 0,
        storageLimit: Int = 0,
        diskUsageLimit: Int = 0,
        episodesURL: String? = nil,
        episodesExpiration: Int = 0,
        replicate: Bool = false,
        replicationPort: Int? = nil,
        replicationSpeed: Int? = nil
    ) {
        self.root = root
        self.expiration = expiration
        self.storageLimit = storageLimit
        self.diskUsageLimit = diskUsageLimit
        self.episodesURL = episodesURL
        self.episodesExpiration = episodesExpiration
        self.replicate = replicate
        self.replicationPort = replicationPort
        self.replicationSpeed = replicationSpeed
    }
}
