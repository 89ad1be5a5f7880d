import NIOCore

/// The handler behind ``RawResponseBody``: passes everything through, and writes what it is given straight to the
/// transport.
final class RawBodyHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let eventLoop: any EventLoop
    private var context: ChannelHandlerContext?

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// Writes `items` in order and flushes; the result completes when the last is written.
    func write(_ items: [IOData]) -> EventLoopFuture<Void> {
        guard let context, let last = items.last else {
            return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        for item in items.dropLast() { context.write(wrapOutboundOut(item), promise: nil) }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(last), promise: promise)
        return promise.futureResult
    }

    func remove() {
        guard let context else { return }
        self.context = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
