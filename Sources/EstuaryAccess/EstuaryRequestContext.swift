import Hummingbird
import NIOCore

/// The request context of every Estuary HTTP listener (nodes, sidecar): Hummingbird's core context plus
/// the client's address, which playback authorization and the per-IP failure throttle need.
public struct EstuaryRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's address; nil only for a channel that has none (never for TCP).
    public let remoteAddress: SocketAddress?
    /// The connection the request came on (live outputs write to it from its event loop).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    /// The client's IP address as text (`127.0.0.1`, `::1`), or `unknown`.
    public var clientIP: String { remoteAddress?.ipAddress ?? "unknown" }
}
