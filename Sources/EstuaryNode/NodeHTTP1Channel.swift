import EstuaryAccess
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// The node's plain HTTP/1.1 connections: Hummingbird's ``HTTP1Channel`` with the node's client limits, plus an
/// ``ArchiveFastPath`` just before request handling.
///
/// Guarantees: every request the fast path does not answer goes through Hummingbird exactly as on an
/// ``HTTP1Channel`` (same pipeline, same limits, same connection-state handling: the fast path sits after
/// Hummingbird's connection-state handler, so idle timeouts and graceful close count its responses too).
struct NodeHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let resolve: @Sendable (HTTPRequest) -> ArchiveFastPath.Answer?
    let served: @Sendable (ArchiveFastPath.Answer.Kind) -> Void

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let resolve = self.resolve
        let served = self.served
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let state = try operations.context(handlerType: HTTPConnectionStateHandler.self)
            try operations.addHandler(ArchiveFastPath(resolve: resolve, served: served), position: .after(state.handler))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the client limits of `counter` (as ``HTTPServerBuilder/limited(by:)``), with archive segments and
    /// exports answered on the event loop for the requests `resolve` accepts (`served` is called for each).
    static func node(
        limitedBy counter: ConnectionCounter, archive resolve: @escaping @Sendable (HTTPRequest) -> ArchiveFastPath.Answer?,
        served: @escaping @Sendable (ArchiveFastPath.Answer.Kind) -> Void
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            NodeHTTP1Channel(
                base: HTTP1Channel(responder: responder, configuration: .limited(by: counter)), resolve: resolve, served: served)
        }
    }
}
