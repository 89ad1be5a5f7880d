import NIOCore
import NIOHTTP1
import NIOPosix

/// A whole HTTP response: status and body.
struct HTTPResult: Sendable {
    var status: Int
    var body: ByteBuffer
}

/// One `GET http://127.0.0.1:PORT/PATH` with `Connection: close`, bounded by a timeout: the
/// bench's control requests (`/healthz`, the API).
enum HTTPGet {
    static func fetch(
        port: Int, path: String, timeout: TimeAmount, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPResult {
        let loop = group.next()
        let promise = loop.makePromise(of: HTTPResult.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector(path: path, promise: promise))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
        } catch {
            promise.fail(error)
            throw error
        }
        let timer = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { timer.cancel() }
        return try await promise.futureResult.get()
    }
}

/// Sends the request when the channel becomes active and collects the response.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let path: String
    let promise: EventLoopPromise<HTTPResult>
    var status = 0
    var body = ByteBuffer()
    var done = false

    init(path: String, promise: EventLoopPromise<HTTPResult>) {
        self.path = path
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        sendGET(path, closing: true, context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(var bytes):
            body.writeBuffer(&bytes)
        case .end:
            finish(.success(HTTPResult(status: status, body: body)))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(BenchError("GET \(path): connection closed before the response ended")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<HTTPResult, any Error>) {
        guard !done else { return }
        done = true
        promise.completeWith(result)
    }
}

extension ChannelInboundHandler where OutboundOut == HTTPClientRequestPart {
    /// Writes `GET path` to 127.0.0.1 on a client pipeline (`Connection: close` when `closing`).
    func sendGET(_ path: String, closing: Bool, context: ChannelHandlerContext) {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: "127.0.0.1")
        if closing { head.headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
