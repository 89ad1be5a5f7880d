import AsyncHTTPClient
import EstuarySidecar
import Foundation
import Hummingbird
import Logging
import Testing

/// The probe against real sockets on loopback: it tells a node that answers, one whose port refuses, one that
/// accepts and never answers, and one that answers `/readyz` but not its stream list in time.
@Suite struct NodeProbeTests {
    var logger: Logger {
        var logger = Logger(label: "test.probe")
        logger.logLevel = .critical
        return logger
    }

    @Test func aNodeThatAnswersReportsItsAliveStreams() async throws {
        try await withNode(listDelay: .zero) { port in
            try await withClient { client in
                let probe = NodeProbe(nodeURL: "http://127.0.0.1:\(port)/", httpClient: client, timeout: .seconds(10), logger: logger)
                let outcome = await probe.probe()
                guard case .answered(let report) = outcome else {
                    Issue.record("got \(outcome)")
                    return
                }
                #expect(report.ready && report.alive == ["cam"] && report.streams == 2 && report.bitrates["cam"] == 1_500_000)
            }
        }
    }

    /// The list never comes (its handler waits until the server stops); `/readyz` has the whole timeout to answer:
    /// its handler runs on the concurrency pool, which the CPU-bound tests running beside this one can hold for
    /// seconds (500 ms was not enough in CI).
    @Test func aNodeSlowToListItsStreamsIsReadyWithoutLoad() async throws {
        try await withNode(listDelay: .seconds(600)) { port in
            try await withClient { client in
                let probe = NodeProbe(nodeURL: "http://127.0.0.1:\(port)", httpClient: client, timeout: .seconds(10), logger: logger)
                #expect(await probe.probe() == .readyWithoutLoad)
            }
        }
    }

    /// (The HTTP client retries a refused connection until the request's deadline: a refusal is told from a
    /// silence by its error, not by its time.)
    @Test func aClosedPortIsRefused() async throws {
        let socket = try ListeningSocket(listen: false)
        let port = socket.port
        socket.close()
        try await withClient { client in
            // Long enough for a connection attempt to fail before the deadline, however busy the test process.
            let probe = NodeProbe(nodeURL: "http://127.0.0.1:\(port)", httpClient: client, timeout: .seconds(10), logger: logger)
            #expect(await probe.probe() == .refused)
        }
    }

    @Test func aNodeThatAcceptsButNeverAnswersIsSilent() async throws {
        let socket = try ListeningSocket(listen: true)
        defer { socket.close() }
        try await withClient { client in
            let probe = NodeProbe(
                nodeURL: "http://127.0.0.1:\(socket.port)", httpClient: client, timeout: .milliseconds(500), logger: logger)
            #expect(await probe.probe() == .silent)
        }
    }

    func withClient(_ body: (HTTPClient) async throws -> Void) async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await body(client)
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// A node's API: `/readyz`, and a stream list answered after `listDelay`.
    func withNode(listDelay: Duration, _ body: (Int) async throws -> Void) async throws {
        let router = Router(context: BasicRequestContext.self)
        router.get("/readyz") { _, _ in "ready\n" }
        router.get("/streamer/api/v3/streams") { _, _ -> Response in
            try await Task.sleep(for: listDelay)
            let json =
                #"{"streams": [{"name": "cam", "stats": {"alive": true, "input_bitrate": 1500000}}, "#
                + #"{"name": "idle", "stats": {"alive": false}}]}"#
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        let server = Task { try await app.run() }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body(port)
    }
}
