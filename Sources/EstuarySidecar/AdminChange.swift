/// A write through the admin API, carried to the upstream.
public enum AdminChange: Sendable, Equatable {
    /// Create or replace a stream.
    case putStream(CentralStream)
    /// Remove a stream.
    case deleteStream(StreamKey)
    /// Create or replace an episode.
    case putEpisode(CentralEpisode)
    /// Remove an episode.
    case deleteEpisode(id: String)
}
