import EstuaryConfig
import Hummingbird
import HummingbirdCore
import NIOCore

extension HTTPServerBuilder {
    /// HTTP/1.1 with ``ClientLimits`` (see ``HummingbirdCore/HTTP1Channel/Configuration/limited(by:)``).
    public static func limited(by counter: ConnectionCounter) -> HTTPServerBuilder {
        .http1(configuration: .limited(by: counter))
    }
}

extension HTTP1Channel.Configuration {
    /// HTTP/1.1 with ``ClientLimits``: header size limits in the decoder, Hummingbird's idle timeout, and a
    /// ``ConnectionGuard`` (connection caps, request-head deadline) on every connection, counted by `counter`.
    public static func limited(by counter: ConnectionCounter) -> HTTP1Channel.Configuration {
        let limits = counter.limits
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: limits.headerBytes, maxHeaderListSize: limits.headerBytes, maxHeaderFieldCount: 200)
        return .init(
            additionalChannelHandlers: [ConnectionGuard(counter: counter)],
            idleTimeout: .seconds(Int64(limits.idleTimeout)),
            httpDecoderConfiguration: decoder)
    }
}
