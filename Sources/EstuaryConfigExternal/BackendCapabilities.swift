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

    /// Creates capabilities; the defaults are those of a backend that sent none of the headers.
    public init(separateEndpoints: Bool = false, dynamicStreams: Bool = true, episodes: Bool = false) {
        self.separateEndpoints = separateEndpoints
        self.dynamicStreams = dynamicStreams
        self.episodes = episodes
    }

    /// Reads the three headers; a header that is absent or not `true`/`false` keeps its default.
    public init(headers: HTTPHeaders) {
        self.init()
        if let value = Self.flag(headers, "X-Config-Server-Separate-Endpoints") { separateEndpoints = value }
        if let value = Self.flag(headers, "X-Config-Server-Dynamic-Streams") { dynamicStreams = value }
        if let value = Self.flag(headers, "X-Config-Server-Episodes") { episodes = value }
    }

    /// The endpoint for asking about running streams missing from the list.
    public var updateEndpoint: ConfigBackendEndpoint { separateEndpoints ? .updateStreamsList : .streams }
    /// The endpoint for asking about unknown names clients requested.
    public var dynamicEndpoint: ConfigBackendEndpoint { separateEndpoints ? .dynamicStreamsList : .streams }

    enum CodingKeys: String, CodingKey {
        case separateEndpoints = "separate_endpoints"
        case dynamicStreams = "dynamic_streams"
        case episodes
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
