import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// A handler on each plain HTTP/1 connection of the node, between Hummingbird's connection-state handler and its
/// request handling, that answers archive HLS segment requests (`GET /{name}/archive/seg-{ms}.m4s`) on the event
/// loop: the head, then the segment file sent with `sendfile`, with no hop to a task or a thread pool.
///
/// `resolve` says which requests it may answer: only those whose answer is known without waiting (the stream is
/// recorded here, no `on_play` check applies, the archive and the segment's day are in memory, no `Range`).
/// Everything else, and every request while one passed on is unanswered, goes on to the router unchanged.
///
/// Guarantees: responses leave in the order the requests came (parts arriving while a segment is being sent are
/// held, and reading stops, until it is written); the response ends only once the whole file was written, so a
/// graceful close never cuts it; a file that cannot be opened sends the request on to the router (which answers
/// with the error); each file is closed once its write completes or fails; `Connection: close` is honoured.
final class ArchiveSegmentFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// A request this handler may answer: the file and byte count to send, with the response's header fields.
    struct Answer: Sendable {
        var path: String
        var bytes: Int
        var headerFields: HTTPFields
    }

    private let resolve: @Sendable (HTTPRequest) -> Answer?
    /// Called once for each response this handler sends.
    private let served: @Sendable () -> Void
    /// The HTTP encoder's context: what is written there goes to the socket unencoded (a `FileRegion` can).
    private var transport: ChannelHandlerContext?
    /// Requests passed on to the router whose response has not ended.
    private var passedOn = 0
    /// A segment of this handler's is being written.
    private var answering = false
    /// The body parts of a request answered here are dropped until its end.
    private var dropping = false
    /// Parts that arrived while answering, in order.
    private var held: [HTTPRequestPart] = []
    /// A read asked for while answering, issued once the answer is written.
    private var readHeld = false
    /// The client's end of input, seen while answering or holding parts: passed on after them.
    private var inputClosedHeld = false
    /// The `Date` field of the current second.
    private var date: (second: Int, text: String) = (-1, "")

    init(resolve: @escaping @Sendable (HTTPRequest) -> Answer?, served: @escaping @Sendable () -> Void) {
        self.resolve = resolve
        self.served = served
    }

    func handlerAdded(context: ChannelHandlerContext) {
        transport = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) { transport = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if answering {
            held.append(part)
        } else {
            take(part, context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { passedOn = max(0, passedOn - 1) }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent, answering || !held.isEmpty {
            // The request handling behind would take it as "no more requests" and close before the answer is out.
            inputClosedHeld = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if answering {
            readHeld = true
        } else {
            context.read()
        }
    }

    /// Answers or passes on `part`; true when it went on to the request handling behind.
    @discardableResult
    private func take(_ part: HTTPRequestPart, context: ChannelHandlerContext) -> Bool {
        switch part {
        case .head(let request):
            dropping = false
            if passedOn == 0, let transport, let answer = resolve(request),
                let file = try? RawResponseBody.openFile(answer.path, holding: answer.bytes)
            {
                dropping = true
                let closing = request.headerFields[.connection].map {
                    $0.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "close" }
                }
                send(answer, file: file, closing: closing ?? false, context, transport)
                return false
            }
            passedOn += 1
            context.fireChannelRead(wrapInboundOut(part))
            return true
        case .body, .end:
            if dropping {
                if case .end = part { dropping = false }
                return false
            }
            context.fireChannelRead(wrapInboundOut(part))
            return true
        }
    }

    private func send(
        _ answer: Answer, file: NIOFileHandle, closing: Bool, _ context: ChannelHandlerContext, _ transport: ChannelHandlerContext
    ) {
        answering = true
        served()
        var head = HTTPResponse(status: .ok, headerFields: answer.headerFields)
        head.headerFields[.contentLength] = String(answer.bytes)
        if closing { head.headerFields[.connection] = "close" }
        head.headerFields[.date] = httpDate()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        let region = FileRegion(fileHandle: file, readerIndex: 0, endIndex: answer.bytes)
        transport.writeAndFlush(NIOAny(IOData.fileRegion(region)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { result in
            try? file.close()
            guard case .success = result else {
                self.answering = false
                context.close(promise: nil)
                return
            }
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            if closing {
                self.answering = false
                context.close(promise: nil)
                return
            }
            // On a later turn of the loop: a write that completed at once must not answer the next held request from
            // inside this one (a long pipeline would nest ever deeper). Parts arriving meanwhile are still held.
            context.eventLoop.assumeIsolated().execute {
                self.answering = false
                self.resume(context)
            }
        }
    }

    /// Takes the parts held while answering, then the end of input and the read held back.
    private func resume(_ context: ChannelHandlerContext) {
        var forwarded = false
        while !held.isEmpty, !answering {
            if take(held.removeFirst(), context: context) { forwarded = true }
        }
        // What went on was read outside a read cycle: the async channel behind delivers on read-complete.
        if forwarded { context.fireChannelReadComplete() }
        guard !answering else { return }
        if inputClosedHeld {
            inputClosedHeld = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if readHeld {
            readHeld = false
            context.read()
        }
    }

    /// The `Date` field (RFC 9110 §6.6.1) for now, formatted once per second.
    private func httpDate() -> String {
        var now = time(nil)
        guard Int(now) != date.second else { return date.text }
        var parts = tm()
        gmtime_r(&now, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let text =
            "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        date = (Int(now), text)
        return text
    }
}
