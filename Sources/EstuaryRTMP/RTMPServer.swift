import EstuaryMedia
import Foundation
import Logging
import NIOCore
import NIOPosix

/// The RTMP publish listener (`listen: {rtmp: 1935}`): accepts encoders, asks `accept` whether each
/// publication may go on, and delivers its media to the ``PublishTarget`` it is given.
///
/// Guarantees: each connection runs in its own child task, so one bad client never affects another; a
/// refused publication gets an `onStatus` error naming the reason before the connection closes; a
/// connection whose target closes (stream stopped, publisher replaced) is closed; a client that sends
/// nothing for ``idleTimeout`` is dropped; `run` returns when its task is cancelled, after closing every
/// connection.
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
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: .nanoseconds(idleTimeout.nanoseconds)), IdleConnectionCloser(),
                    ])
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        onBound(server.channel.localAddress?.port ?? port)
        logger.info("rtmp listening", metadata: ["port": .stringConvertible(server.channel.localAddress?.port ?? port)])
        try await withTaskCancellationHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await handle(connection) }
                    }
                }
            }
        } onCancel: {
            server.channel.close(promise: nil)
        }
    }

    private func handle(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        var logger = logger
        logger[metadataKey: "peer"] = .string(peer)
        var target: (any PublishTarget)?
        var ended: String?
        do {
            try await connection.executeThenClose { inbound, outbound in
                var session = RTMPSession()
                var demuxer = RTMPMediaDemuxer()
                for try await bytes in inbound {
                    for output in try session.receive(bytes) {
                        switch output {
                        case .send(let data):
                            try await outbound.write(data)
                        case .publish(let app, let name, let query):
                            let request = RTMPPublishRequest(app: app, name: name, query: query, peer: peer)
                            do {
                                target = try await accept(request)
                                try await outbound.write(session.accept())
                                logger.info("rtmp publish started", metadata: ["app": .string(app), "name": .string(name)])
                            } catch {
                                let text = "\(error)"
                                let code =
                                    text.contains("password") || text.contains("refused")
                                    ? "NetStream.Publish.Unauthorized" : "NetStream.Publish.BadName"
                                logger.warning(
                                    "rtmp publish refused", metadata: ["app": .string(app), "name": .string(name), "error": .string(text)])
                                try await outbound.write(session.reject(code: code, description: text))
                                return
                            }
                        case .media(let message):
                            guard let target else { continue }
                            guard target.isOpen else {
                                ended = "the stream no longer takes this publisher"
                                return
                            }
                            for item in demuxer.receive(message, arrivalMicros: Self.nowMicros()) {
                                switch item {
                                case .tracks(let tracks): target.setTracks(tracks)
                                case .frame(let frame): target.push(frame)
                                case .error(let text): target.inputError("rtmp: \(text)")
                                }
                            }
                        case .unpublish:
                            target?.finish(reason: nil)
                            logger.info("rtmp publish ended by the client")
                            return
                        }
                    }
                }
                ended = "the client closed the connection"
            }
        } catch is CancellationError {
            ended = "the node is shutting down"
        } catch {
            ended = "\(error)"
            logger.warning("rtmp connection ended", metadata: ["error": .string("\(error)")])
        }
        target?.finish(reason: ended)
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
