import EstuaryMedia
import Foundation
import Logging
import NIOCore

/// One RTMP publisher's connection, driven on its event loop: bytes go through ``RTMPSession`` and
/// ``RTMPMediaDemuxer`` straight into the ``PublishTarget``, with no hop to a task per read.
///
/// Guarantees: the only asynchronous step is the acceptor's decision; the bytes and session outputs that arrive
/// meanwhile are kept and processed, in order, once it is made. A refused publication gets its `onStatus` error
/// before the connection closes; a target that stops taking media closes the connection; whatever ends the
/// connection, the target is finished exactly once with the reason.
final class RTMPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let accept: RTMPServer.Acceptor
    private let registry: RTMPConnectionRegistry
    private var logger: Logger
    private var peer = "unknown"
    private var session = RTMPSession()
    private var demuxer = RTMPMediaDemuxer()
    private var target: (any PublishTarget)?
    /// While the acceptor decides: the session outputs after the publish command, then the bytes read since.
    private var waiting: (outputs: [RTMPSession.Output], reads: [ByteBuffer])?
    private var ended: String?
    private var finished = false
    private var closing = false

    init(accept: @escaping RTMPServer.Acceptor, registry: RTMPConnectionRegistry, logger: Logger) {
        self.accept = accept
        self.registry = registry
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        logger[metadataKey: "peer"] = .string(peer)
        registry.add(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard !closing else { return }
        if waiting != nil {
            waiting?.reads.append(bytes)
            return
        }
        receive(bytes, context: context)
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        registry.remove(context.channel)
        finish(reason: ended ?? (registry.isShuttingDown ? "the node is shutting down" : "the client closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if ended == nil {
            ended = "\(error)"
            logger.warning("rtmp connection ended", metadata: ["error": .string("\(error)")])
        }
        close(context)
    }

    private func receive(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        let outputs: [RTMPSession.Output]
        do {
            outputs = try session.receive(bytes)
        } catch {
            errorCaught(context: context, error: error)
            return
        }
        handle(outputs[...], context: context)
    }

    /// Handles session outputs in order; stops at a publish command until the acceptor decides.
    private func handle(_ outputs: ArraySlice<RTMPSession.Output>, context: ChannelHandlerContext) {
        for (index, output) in zip(outputs.indices, outputs) {
            guard !closing else { return }
            switch output {
            case .send(let data):
                context.write(wrapOutboundOut(data), promise: nil)
            case .publish(let app, let name, let query):
                waiting = (Array(outputs[(index + 1)...]), [])
                decide(RTMPPublishRequest(app: app, name: name, query: query, peer: peer), context: context)
                return
            case .media(let message):
                guard let target else { continue }
                guard target.isOpen else {
                    ended = "the stream no longer takes this publisher"
                    close(context)
                    return
                }
                for item in demuxer.receive(message, arrivalMicros: RTMPServer.nowMicros()) {
                    switch item {
                    case .tracks(let tracks): target.setTracks(tracks)
                    case .frame(let frame): target.push(frame)
                    case .error(let text): target.inputError("rtmp: \(text)")
                    }
                }
            case .unpublish:
                logger.info("rtmp publish ended by the client")
                finish(reason: nil)
                close(context)
                return
            }
        }
    }

    /// Asks the acceptor on a task; continues on the event loop with its answer.
    private func decide(_ request: RTMPPublishRequest, context: ChannelHandlerContext) {
        let accept = self.accept
        let promise = context.eventLoop.makePromise(of: (any PublishTarget).self)
        promise.completeWithTask { try await accept(request) }
        promise.futureResult.assumeIsolated().whenComplete { result in
            guard !self.closing else {
                // The connection ended while the acceptor decided: release what it granted.
                if case .success(let granted) = result { granted.finish(reason: self.ended ?? "the client closed the connection") }
                return
            }
            switch result {
            case .success(let granted):
                self.target = granted
                context.write(self.wrapOutboundOut(self.session.accept()), promise: nil)
                self.logger.info(
                    "rtmp publish started", metadata: ["app": .string(request.app), "name": .string(request.name)])
                let (outputs, reads) = self.waiting ?? ([], [])
                self.waiting = nil
                self.handle(outputs[...], context: context)
                for bytes in reads where !self.closing {
                    // Another publish command among them waits for its own decision, with what follows it.
                    if self.waiting != nil {
                        self.waiting?.reads.append(bytes)
                    } else {
                        self.receive(bytes, context: context)
                    }
                }
                context.flush()
            case .failure(let error):
                let text = "\(error)"
                let code =
                    text.contains("password") || text.contains("refused") ? "NetStream.Publish.Unauthorized" : "NetStream.Publish.BadName"
                self.logger.warning(
                    "rtmp publish refused", metadata: ["app": .string(request.app), "name": .string(request.name), "error": .string(text)])
                self.ended = "refused: \(text)"
                context.writeAndFlush(self.wrapOutboundOut(self.session.reject(code: code, description: text)), promise: nil)
                self.close(context)
            }
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        context.flush()
        context.close(promise: nil)
    }

    private func finish(reason: String?) {
        guard !finished else { return }
        finished = true
        target?.finish(reason: reason)
    }
}
