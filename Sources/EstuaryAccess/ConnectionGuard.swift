import EstuaryConfig
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// A channel handler on every HTTP connection (after HTTP decoding) that keeps hostile clients cheap:
///
/// - a connection over the total or per-IP cap of ``ConnectionCounter`` is answered 503 or 429 as soon as its
///   request head arrives, and closed after at most one second either way;
/// - a client must send a whole request head within `request_timeout` of connecting, and within
///   `idle_timeout` of its previous response ending (slow-request, "slowloris", clients are answered 408
///   and closed);
/// - a request whose headers exceed `header_bytes` is answered 431, any other unparsable request 400.
///
/// Guarantees: each answer names what was wrong; the connection's place in the counter is released exactly
/// once, when the handler leaves the pipeline.
public final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private let counter: ConnectionCounter
    private var ip = "unknown"
    private var admitted = false
    private var refusal: ConnectionCounter.Refusal?
    private var timer: Scheduled<Void>?
    private var answered = false
    /// Request heads read whose response has not ended (more than one when a client pipelines).
    private var unanswered = 0

    public init(counter: ConnectionCounter) {
        self.counter = counter
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        ip = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if let refusal = counter.admit(ip: ip) {
            self.refusal = refusal
            schedule(context, after: .seconds(1))
        } else {
            admitted = true
            schedule(context, after: .seconds(Int64(counter.limits.requestTimeout)))
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if admitted {
            admitted = false
            counter.release(ip: ip)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let refusal {
            if case .head = part {
                switch refusal {
                case .tooManyConnections(let limit):
                    answer(context, .serviceUnavailable, "too_many_connections", "the server holds its limit of \(limit) connections")
                case .tooManyFromAddress(let ip, let limit):
                    answer(context, .tooManyRequests, "too_many_connections", "\(ip) already has \(limit) open connections")
                }
            }
            return
        }
        if case .head = part {
            timer?.cancel()
            timer = nil
            unanswered += 1
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), refusal == nil, !answered {
            unanswered = max(0, unanswered - 1)
            // Every request read is answered: the client has until idle_timeout to send its next request head. A
            // pipelined request already read is not waited for (its response may well last longer).
            if unanswered == 0 { schedule(context, after: .seconds(Int64(counter.limits.idleTimeout))) }
        }
        context.write(data, promise: promise)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if case .headerOverflow = parserError {
            answer(
                context, .requestHeaderFieldsTooLarge, "headers_too_large",
                "the request's headers exceed \(counter.limits.headerBytes) bytes")
        } else {
            answer(context, .badRequest, "malformed_request", "the request is not valid HTTP/1.1: \(parserError)")
        }
    }

    private func schedule(_ context: ChannelHandlerContext, after delay: TimeAmount) {
        timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            guard handler.refusal == nil else {
                context.close(promise: nil)
                return
            }
            handler.counter.countTimeout()
            handler.answer(
                context, .requestTimeout, "request_timeout",
                "no complete request head within \(handler.counter.limits.requestTimeout) s")
        }
    }

    /// Writes a JSON error response, then closes the connection.
    private func answer(_ context: ChannelHandlerContext, _ status: HTTPResponse.Status, _ code: String, _ detail: String) {
        guard !answered else { return }
        answered = true
        timer?.cancel()
        timer = nil
        let body = (try? JSONEncoder().encode(["error": code, "detail": detail])) ?? Data()
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(body.count)
        fields[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        done.futureResult.whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
