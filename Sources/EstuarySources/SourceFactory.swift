import AsyncHTTPClient
import EstuaryClusterAuth
import EstuaryConfig
import NIOCore

/// Turns input URLs into sources, sharing one HTTP client and event loop group per node.
public struct SourceFactory: Sendable {
    public let httpClient: HTTPClient
    public let eventLoopGroup: any EventLoopGroup
    /// The node's cluster key, used for `m4f://` inputs without their own `cluster_key`.
    public let clusterKey: String?
    /// Where `publish://` inputs take their publishers from.
    public let publishRegistry: PublishRegistry
    /// Where `hls://` inputs stopped reading, so that a reconnect does not replay the live edge.
    public let hlsProgress = HLSProgress()
    /// Reads the sockets of every `udp://` input of the node, a batch per tick.
    public let udpPoller: UDPPoller
    /// This node process's random identity, sent with `m4f://` requests so that a node never reads its own stream.
    public let instanceID: String?

    public init(
        httpClient: HTTPClient, eventLoopGroup: any EventLoopGroup, clusterKey: String?,
        publishRegistry: PublishRegistry = PublishRegistry(), instanceID: String? = nil
    ) {
        self.instanceID = instanceID
        self.httpClient = httpClient
        self.eventLoopGroup = eventLoopGroup
        self.udpPoller = UDPPoller(group: eventLoopGroup)
        self.clusterKey = clusterKey
        self.publishRegistry = publishRegistry
    }

    /// The source for one input of stream `stream`.
    public func makeSource(for input: InputConfig, stream: String = "") throws(SourceError) -> any MediaSource {
        let display = SecretMasking.mask(url: input.url)
        let parsed = try InputURL(parsing: input.url)
        switch parsed.scheme {
        case "fake":
            switch FakeClip.shared {
            case .success(let clip): return FakeSource(url: display, clip: clip)
            case .failure(let error): throw error
            }
        case "m4f", "m4fs":
            let key = input.clusterKey ?? clusterKey
            return try M4FSource(
                url: input.url, displayURL: display, client: httpClient, auth: key.map { ClusterAuth(key: $0) }, instanceID: instanceID)
        case "udp":
            return try UDPTSSource(url: input.url, displayURL: display, poller: udpPoller)
        case "tshttp", "tshttps", "http", "https":
            return try TSHTTPSource(url: input.url, displayURL: display, client: httpClient)
        case "rtsp":
            return try RTSPSource(url: input.url, displayURL: display, group: eventLoopGroup)
        case "hls", "hlss":
            return try HLSSource(url: input.url, displayURL: display, client: httpClient, stream: stream, progress: hlsProgress)
        case "publish":
            return PublishSource(stream: stream, displayURL: display, registry: publishRegistry)
        default:
            throw .invalidURL(display, reason: "scheme '\(parsed.scheme)' is not supported yet")
        }
    }
}
