import EstuaryMedia
import Foundation
import Logging
import NIOCore
import NIOPosix

/// The RTMP publish listener (`listen: {rtmp: 1935}`): accepts encoders, asks `accept` whether each
/// publication may go on, and delivers its media to the ``PublishTarget`` it is given.
///
/// Guarantees: each connection is handled on its own event loop by its own ``RTMPConnectionHandler``, so one
/// bad client never affects another; a refused publication gets an `onStatus` error naming the reason before
/// the connection closes; a connection whose target closes (stream stopped, publisher replaced) is closed; a
/// client that sends nothing for ``idleTimeout`` is dropped; `run` returns when its task is cancelled, after
/// closing every connection.
public struct RTMPServer: Sendable {
    /// Decides a publication: returns where its media goes, or throws an error whose description is sent
    /// to the client (with `code` `NetStream.Publish.BadName`, or `.Unauthorized` when it says `password` or `refused`).
    public typealias Acceptor = @Sendable (RTMPPublishRequest) async throws -> any PublishTarget

    public let host: String
    public let port: Int
    public var idleTimeout: Duration = .seconds(30)
    let group: any EventLoopGroup
    let logger: Logger
    let accept: Acceptor

    public init(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        accept: @escaping Acceptor
    ) {
        self.host = host
        self.port = port
        self.group = group
        self.logger = logger
        self.accept = accept
    }

    /// Listens until the task is cancelled; `onBound` gets the bound port (useful with port 0).
    public func run(onBound: @Sendable (Int) -> Void = { _ in }) async throws {
        let registry = RTMPConnectionRegistry()
        let accept = self.accept
        let logger = self.logger
        let idleTimeout = self.idleTimeout
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: .nanoseconds(idleTimeout.nanoseconds)), IdleConnectionCloser(),
                        RTMPConnectionHandler(accept: accept, registry: registry, logger: logger),
                    ])
                }
            }
            .bind(host: host, port: port).get()
        let bound = server.localAddress?.port ?? port
        onBound(bound)
        logger.info("rtmp listening", metadata: ["port": .stringConvertible(bound)])
        // Each connection runs on its event loop (RTMPConnectionHandler); this task only waits for cancellation,
        // then closes the listener and every connection.
        await withTaskCancellationHandler {
            try? await server.closeFuture.get()
        } onCancel: {
            server.close(promise: nil)
        }
        await registry.closeAll()
    }

    static func nowMicros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }
}

/// Closes a connection that sent nothing within the idle timeout (a client that connects and stalls).
final class IdleConnectionCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
