import Foundation
import Hummingbird
import Logging
import NIOCore

/// The replicator's HTTP listener: `GET /status` (every stream's gaps and progress), `GET /metrics`,
/// `GET /healthz`.
public enum ReplicatorStatusServer {
    /// The listener as a `Service` for a `ServiceGroup`.
    public static func application(for replicator: Replicator, logger: Logger) -> some ApplicationProtocol {
        let settings = replicator.settings
        let router = Router(context: BasicRequestContext.self)
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/status") { _, _ -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            struct Status: Encodable {
                var target: String
                var speedLimit: Int?
                var streams: [String: Replicator.StreamState]
                var heldForLive: Bool
                var liveHolds: Int
                var laggingLive: [String]
                enum CodingKeys: String, CodingKey {
                    case target, streams
                    case speedLimit = "speed_limit"
                    case heldForLive = "held_for_live"
                    case liveHolds = "live_holds"
                    case laggingLive = "lagging_live"
                }
            }
            let body = try encoder.encode(
                Status(
                    target: settings.target, speedLimit: settings.speedLimit, streams: replicator.status,
                    heldForLive: replicator.bucket.isHeld, liveHolds: replicator.bucket.holds, laggingLive: replicator.laggingLiveStreams))
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: replicator.metricsText())))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.listenHost, port: settings.listenPort), serverName: "estuary-replicator"),
            logger: logger)
    }
}
