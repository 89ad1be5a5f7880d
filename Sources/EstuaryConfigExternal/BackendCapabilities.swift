import Foundation
import NIOHTTP1

/// What the backend announced in the headers of its last `GET /streams` answer (DESIGN §3). Re-read on every
/// cycle; until the first answer the defaults apply.
public struct BackendCapabilities: Sendable, Equatable, Codable {
    /// `X-Config-Server-Separate-Endpoints: true`: ask `/update_streams_list` and `/dynamic_streams_list`
    /// instead of `/streams?name=`. Default `false`.
    public var separateEndpoints: Bool
    /// `X-Config-Server-Dynamic-Streams: false` refuses unknown names without asking. Default `true`.
    public var dynamicStreams: Bool
    /// `X-Config-Server-Episodes: true`: DVR cleanup asks `/episodes`. Default `false`.
    public var episodes: Bool
    /// `X-Config-Server-Poll-Interval: S` in seconds (an Estuary extension of DESIGN §3): the backend asks for
    /// cycles this often. The config-sidecar sends it because it answers from a local replica in
    /// milliseconds and a shorter cycle makes failover faster. `nil` keeps the node's own interval.
    public var pollInterval: Double?

    /// Creates capabilities; the defaults are those of a backend that sent none of the headers.
    public init(
        separateEndpoints: Bool = false, dynamicStreams: Bool = true, episodes: Bool = false, pollInterval: Double? = nil
    ) {
        self.separateEndpoints = separateEndpoints
        self.dynamicStreams = dynamicStreams
        self.episodes = episodes
        self.pollInterval = pollInterval
    }

    /// Reads the three headers; a header that is absent or not `true`/`false` keeps its default.
    public init(headers: HTTPHeaders) {
        self.init()
        if let value = Self.flag(headers, "X-Config-Server-Separate-Endpoints") { separateEndpoints = value }
        if let value = Self.flag(headers, "X-Config-Server-Dynamic-Streams") { dynamicStreams = value }
        if let value = Self.flag(headers, "X-Config-Server-Episodes") { episodes = value }
        if let text = headers.first(name: "X-Config-Server-Poll-Interval"), let seconds = Double(text.trimmingCharacters(in: .whitespaces)),
            seconds.isFinite, seconds > 0
        {
            pollInterval = seconds
        }
    }

    /// The endpoint for asking about running streams missing from the list.
    public var updateEndpoint: ConfigBackendEndpoint { separateEndpoints ? .updateStreamsList : .streams }
    /// The endpoint for asking about unknown names clients requested.
    public var dynamicEndpoint: ConfigBackendEndpoint { separateEndpoints ? .dynamicStreamsList : .streams }

    enum CodingKeys: String, CodingKey {
        case separateEndpoints = "separate_endpoints"
        case dynamicStreams = "dynamic_streams"
        case episodes
        case pollInterval = "poll_interval"
    }

    private static func flag(_ headers: HTTPHeaders, _ name: String) -> Bool? {
        guard let value = headers.first(name: name)?.trimmingCharacters(in: .whitespaces).lowercased() else { return nil }
        switch value {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: return nil
        }
    }
}
