import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// A handler on each plain HTTP/1 connection of the node, between Hummingbird's connection-state handler and its
/// request handling, that answers archive requests on the event loop: HLS segments (`GET
/// /{name}/archive/seg-{ms}.m4s`) and `.mp4`/`.m4f` exports. The head, then the body's bytes from memory and ranges of
/// segment files sent with `sendfile`, with no hop to a task or a thread pool.
///
/// `resolve` says which requests it may answer: only those whose answer is known without waiting (the stream is
/// recorded here, no `on_play` check applies, the archive, the days, the init segments and the layouts it needs are in
/// memory). Everything else, and every request while one passed on is unanswered, goes on to the router unchanged.
///
/// Guarantees: responses leave in the order the requests came (parts arriving while an answer is being sent are
/// held, and reading stops, until it is written); the response ends only once its whole body was written, so a
/// graceful close never cuts it; an answer holds at most ``filesPerWrite`` files open, and writes the next ones only
/// once those are written (a slow reader holds back the sending, not the node's memory); a first file that cannot be
/// opened sends the request on to the router (which answers with the error), a later one closes the connection (the
/// head promised its bytes); each file is closed once its write completes or fails; `Connection: close` is honoured.
final class ArchiveFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Segment files an answer holds open while they are being written.
    static let filesPerWrite = 8

    /// A request this handler may answer: the response's status, header fields and body.
    struct Answer: Sendable {
        /// What was answered (for the node's metrics).
        enum Kind: Sendable {
            case segment, export
        }

        /// A piece of the body.
        enum Item: Sendable {
            case bytes(ByteBuffer)
            /// Bytes `range` of the file at `path`, which must hold `holding` bytes (exactly that many, with `exactly`).
            case file(path: String, range: Range<Int>, holding: Int, exactly: Bool)
        }

        var kind: Kind
        var status: HTTPResponse.Status = .ok
        var headerFields: HTTPFields
        var body: [Item]

        /// The body's length.
        var length: Int {
            body.reduce(0) { total, item in
                switch item {
                case .bytes(let bytes): total + bytes.readableBytes
                case .file(_, let range, _, _): total + range.count
                }
            }
        }
    }

    private let resolve: @Sendable (HTTPRequest) -> Answer?
    /// Called once for each response this handler sends.
    private let served: @Sendable (Answer.Kind) -> Void
    /// The HTTP encoder's context: what is written there goes to the socket unencoded (a `FileRegion` can).
    private var transport: ChannelHandlerContext?
    /// Requests passed on to the router whose response has not ended.
    private var passedOn = 0
    /// An answer of this handler's is being written.
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

    init(resolve: @escaping @Sendable (HTTPRequest) -> Answer?, served: @escaping @Sendable (Answer.Kind) -> Void) {
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
            if passedOn == 0, let transport, let answer = resolve(request), let first = try? Batch(answer.body, from: 0) {
                dropping = true
                let closing = request.headerFields[.connection].map(Self.asksToClose) ?? false
                send(answer, first: first, closing: closing, context, transport)
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

    /// Whether a `Connection` field value holds the `close` option (RFC 9110 §7.6.1: a comma-separated list of
    /// case-insensitive tokens, with optional whitespace).
    static func asksToClose(_ value: String) -> Bool {
        value.utf8.split(separator: UInt8(ascii: ",")).contains { option in
            let token = option.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }
            return token.count == 5 && zip(token.reversed(), "close".utf8).allSatisfy { $0 | 0x20 == $1 }
        }
    }

    /// Body items from one index on, with the files they read opened: up to ``filesPerWrite`` files.
    private struct Batch {
        var items: [IOData] = []
        var files: [NIOFileHandle] = []
        /// The index of the first item not in this batch.
        var next: Int

        /// Opens the files of `body`'s items from `index` on; throws (having closed what it opened) when one cannot be
        /// opened or does not hold what it should.
        init(_ body: [Answer.Item], from index: Int) throws {
            next = index
            do {
                while next < body.count, files.count < ArchiveFastPath.filesPerWrite {
                    switch body[next] {
                    case .bytes(let bytes):
                        items.append(.byteBuffer(bytes))
                    case .file(let path, let range, let holding, let exactly):
                        let file = try RawResponseBody.openFile(path, holding: max(holding, range.upperBound), exactly: exactly)
                        files.append(file)
                        items.append(.fileRegion(FileRegion(fileHandle: file, readerIndex: range.lowerBound, endIndex: range.upperBound)))
                    }
                    next += 1
                }
            } catch {
                closeFiles()
                throw error
            }
        }

        func closeFiles() {
            for file in files { try? file.close() }
        }
    }

    private func send(
        _ answer: Answer, first: Batch, closing: Bool, _ context: ChannelHandlerContext, _ transport: ChannelHandlerContext
    ) {
        answering = true
        served(answer.kind)
        var head = HTTPResponse(status: answer.status, headerFields: answer.headerFields)
        head.headerFields[.contentLength] = String(answer.length)
        if closing { head.headerFields[.connection] = "close" }
        head.headerFields[.date] = httpDate()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        write(first, of: answer, closing: closing, context, transport)
    }

    /// Writes `batch`, then the batches after it, then ends the response.
    private func write(
        _ batch: Batch, of answer: Answer, closing: Bool, _ context: ChannelHandlerContext, _ transport: ChannelHandlerContext
    ) {
        let written = context.eventLoop.makePromise(of: Void.self)
        for item in batch.items.dropLast() { transport.write(NIOAny(item), promise: nil) }
        if let last = batch.items.last {
            transport.writeAndFlush(NIOAny(last), promise: written)
        } else {
            written.succeed()
        }
        written.futureResult.assumeIsolated().whenComplete { result in
            batch.closeFiles()
            guard case .success = result else {
                self.answering = false
                context.close(promise: nil)
                return
            }
            if batch.next < answer.body.count {
                // On a later turn of the loop: a write that completed at once must not nest the next batch in it.
                context.eventLoop.assumeIsolated().execute {
                    guard let next = try? Batch(answer.body, from: batch.next) else {
                        // The head promised these bytes: the client must see the response cut, not a short one.
                        self.answering = false
                        context.close(promise: nil)
                        return
                    }
                    self.write(next, of: answer, closing: closing, context, transport)
                }
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
