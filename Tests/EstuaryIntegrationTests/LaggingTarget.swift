import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A target dvr-node whose live recording lags on demand, for the replicator's live-lag pause: a real disk
/// cannot be made slow on demand here. It lists one replicated stream reading `primary`, reports
/// `recording_backlog_bytes` as the test sets it, holds no segments, and reads every `dvr/import` body to its end
/// (storing nothing), counting the bytes.
final class LaggingTarget: Sendable {
    let primary: String
    let backlog = Mutex(0)
    let imported = Mutex(0)

    init(primary: String) {
        self.primary = primary
    }

    func run(ready: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router()
        router.get("/streamer/api/v3/streams") { _, _ -> Response in
            let body = """
                {"streams": [{"name": "s", "inputs": [{"url": "\(self.primary)"}],
                  "dvr": {"expiration": 0, "replicate": true, "recording_backlog_bytes": \(self.backlog.withLock { $0 }),
                          "recording_dropped_chunks": 0}}]}
                """
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("/streamer/api/v3/streams/s/dvr/segments") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"segments": []}"#)))
        }
        router.post("/streamer/api/v3/streams/s/dvr/import") { request, _ -> Response in
            for try await chunk in request.body {
                self.imported.withLock { $0 += chunk.readableBytes }
            }
            let body = #"{"stored": 0, "existing": 0, "rejected": 0, "segments": []}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.post("/streamer/api/v3/streams/s/dvr/replication") { _, _ in HTTPResponse.Status.ok }
        var logger = Logger(label: "test.lagging-target")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in ready(channel.localAddress?.port ?? 0) }, logger: logger)
        try await app.run()
    }
}
