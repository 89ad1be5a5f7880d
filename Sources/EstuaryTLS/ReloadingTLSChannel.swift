import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// A server child channel that puts TLS, with the ``TLSCertificateStore``'s current certificate, in front of
/// another child channel (HTTP/1.1).
///
/// Guarantees: each accepted connection takes the context in force when it was accepted, so a reload never
/// disturbs a handshake under way.
public struct ReloadingTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    public typealias Value = Base.Value

    let base: Base
    let store: TLSCertificateStore

    public init(_ base: Base, store: TLSCertificateStore) {
        self.base = base
        self.store = store
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: store.context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 (with `configuration`) over TLS with the store's certificate, reloaded as the store reloads.
    public static func tls(
        http1 configuration: HTTP1Channel.Configuration, certificates store: TLSCertificateStore
    )
        -> HTTPServerBuilder
    {
        .init { responder in
            ReloadingTLSChannel(HTTP1Channel(responder: responder, configuration: configuration), store: store)
        }
    }
}
