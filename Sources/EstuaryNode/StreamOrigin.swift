import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources

/// Where a running stream's configuration came from.
public enum StreamOrigin: String, Sendable, Codable {
    /// The node's YAML file.
    case file
    /// The node API (`PUT /streamer/api/v3/streams/{name}`).
    case api
    /// A config_external backend's list.
    case external
    /// A config_external backend, asked for an unknown name on demand.
    case dynamic
    /// A `sources:` entry of the YAML file: a stream another node has (``SourceFollower``).
    case source
}
