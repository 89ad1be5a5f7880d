import EstuaryHub
import NIOCore

/// One HTTP client of a ``LiveFanout``: a handler placed just above the transport (below the HTTP encoder, above
/// TLS when there is TLS) of a connection whose response head, with `Transfer-Encoding: chunked`, was already
/// written. It writes the fan-out's chunk-framed buffers straight to the connection.
///
/// Guarantees: it writes only on its channel's loop; it skips (rather than queues) while the connection is not
/// writable and resumes at a sync point preceded by the header; ``done`` succeeds once it has left the pipeline
/// with the body still open (the stream ended, or the node shuts down: the caller then ends the body), and fails
/// when the connection closed or was closed for being too slow.
final class LiveFanoutWriter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What happened to one offered chunk.
    enum Outcome {
        case written
        case startedSkipping
        case skipped
        case closed
        case ended
    }

    let done: EventLoopPromise<Void>
    private var context: ChannelHandlerContext?
    private var skipping = false
    private var unwritableSince: NIODeadline?
    private var ended = false
    /// The fan-out that added this writer (``LiveFanout/add(_:)``).
    var fanout: LiveFanout?

    init(done: EventLoopPromise<Void>) {
        self.done = done
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Writes what a joining client starts with (header and GOP cache).
    func start(with initial: [ByteBuffer]) {
        guard let context, !ended, !initial.isEmpty else { return }
        for buffer in initial { context.write(wrapOutboundOut(buffer), promise: nil) }
        context.flush()
    }

    func offer(_ framed: ByteBuffer, sync: Bool, header: ByteBuffer?, now: NIODeadline, stallTimeout: TimeAmount) -> Outcome {
        guard let context, !ended else { return .ended }
        guard context.channel.isWritable else {
            if let since = unwritableSince {
                if now - since > stallTimeout {
                    finish(error: HubError.readerTooSlow(queuedBytes: 0))
                    context.close(promise: nil)
                    return .closed
                }
            } else {
                unwritableSince = now
            }
            if skipping { return .skipped }
            skipping = true
            return .startedSkipping
        }
        unwritableSince = nil
        if skipping {
            guard sync else { return .skipped }
            skipping = false
            if let header { context.write(wrapOutboundOut(header), promise: nil) }
        }
        context.writeAndFlush(wrapOutboundOut(framed), promise: nil)
        return .written
    }

    /// Leaves the pipeline with the body open, so that the response can end cleanly after it.
    func end() {
        guard let context, !ended else { return }
        ended = true
        fanout?.remove(self)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        done.succeed()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { unwritableSince = nil }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(error: ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(error: error)
        context.fireErrorCaught(error)
    }

    private func finish(error: any Error) {
        guard !ended else { return }
        ended = true
        fanout?.remove(self)
        done.fail(error)
    }
}
