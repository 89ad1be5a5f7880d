import EstuaryAccess
import Hummingbird

/// What the archive-only replication listener (`listen: {replication: 8002}`, DESIGN §4.3) lets through: health
/// probes, a stream's segment list (`GET …/{name}/dvr/segments`) and its stored bytes
/// (`GET /{name}/archive-{from}-{duration}.m4f`) — what a replicator reads from a primary.
///
/// Guarantees: every other request answers 404 `not_on_replication_listener` before it reaches the router, so
/// live playback, the API and writes are never served on that port.
struct ReplicationListenerFilter: RouterMiddleware {
    typealias Context = EstuaryRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.allows(method: request.method, path: request.uri.path) else {
            throw NodeError(
                .notFound, "not_on_replication_listener",
                "the replication listener serves only /healthz, /readyz, GET …/dvr/segments and GET /NAME/archive-FROM-DURATION.m4f")
        }
        return try await next(request, context)
    }

    static func allows(method: HTTPRequest.Method, path: String) -> Bool {
        if path == "/healthz" || path == "/readyz" { return method == .get || method == .head }
        guard method == .get || method == .head else { return false }
        if path.hasPrefix("/streamer/api/v3/streams/") && path.hasSuffix("/dvr/segments") { return true }
        guard let last = path.split(separator: "/").last else { return false }
        return last.hasPrefix("archive-") && last.hasSuffix(".m4f")
    }
}
