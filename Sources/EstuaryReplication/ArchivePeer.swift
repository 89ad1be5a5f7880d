import AsyncHTTPClient
import EstuaryClusterAuth
import EstuaryTLS
import Foundation
import NIOCore
import NIOHTTP1

/// A dvr-node as the replicator talks to it: its stream list, `dvr/segments`, archive M4F, `dvr/import`,
/// all signed with the cluster key.
public struct ArchivePeer: Sendable {
    /// `http://host:port`.
    public let base: String
    let auth: ClusterAuth?
    let client: HTTPClient

    public init(base: String, clusterKey: String?, client: HTTPClient) {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.base = trimmed
        self.auth = clusterKey.map { ClusterAuth(key: $0) }
        self.client = client
    }

    func request(_ method: HTTPMethod, _ path: String, query: String = "") -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path + (query.isEmpty ? "" : "?\(query)"))
        request.method = method
        if let auth { request.headers.add(name: "Authorization", value: auth.authorizationHeader(method: method.rawValue, path: path)) }
        return request
    }

    func check(_ response: HTTPClientResponse, _ what: String) async throws(ReplicationError) {
        switch response.status.code {
        case 200..<300: return
        case 401: throw ReplicationError("unauthorized", "\(base) refused \(what) (401): check cluster_key")
        case 404:
            let body = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
            throw ReplicationError("not_found", "\(base) has no \(what) (404 \(body.prefix(200)))")
        default:
            let body = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
            throw ReplicationError("http_error", "\(base) answered \(what) with HTTP \(response.status.code) \(body.prefix(200))")
        }
    }

    func send(
        _ request: HTTPClientRequest, _ what: String, timeout: Duration = .seconds(30)
    ) async throws(ReplicationError)
        -> HTTPClientResponse
    {
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
        } catch {
            if let tls = TLSError.explain(error) { throw ReplicationError("tls_error", "\(base): \(what): \(tls)") }
            throw ReplicationError("unreachable", "\(base): \(what): \(error)")
        }
        try await check(response, what)
        return response
    }

    func json<T: Decodable>(_ request: HTTPClientRequest, _ what: String, as type: T.Type) async throws(ReplicationError) -> T {
        let response = try await send(request, what)
        do {
            let body = try await response.body.collect(upTo: 256 << 20)
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw ReplicationError("bad_response", "\(base): \(what): \(error)")
        }
    }

    /// One stream of the node's API, as the replicator needs it.
    public struct StreamEntry: Decodable, Sendable {
        public struct Input: Decodable, Sendable { public var url: String }
        public struct DVR: Decodable, Sendable {
            public var expiration: Int
            public var replicate: Bool
            public var replicationPort: Int?
            public var replicationSpeed: Int?
            public var recordingBacklogBytes: Int?
            public var recordingDroppedChunks: Int?
            enum CodingKeys: String, CodingKey {
                case expiration, replicate
                case recordingBacklogBytes = "recording_backlog_bytes"
                case recordingDroppedChunks = "recording_dropped_chunks"
                case replicationPort = "replication_port"
                case replicationSpeed = "replication_speed"
            }
        }
        public var name: String
        public var inputs: [Input]
        public var dvr: DVR?
    }

    /// `GET /streamer/api/v3/streams`.
    public func streams() async throws(ReplicationError) -> [StreamEntry] {
        struct Body: Decodable { var streams: [StreamEntry] }
        return try await json(request(.GET, "/streamer/api/v3/streams"), "the stream list", as: Body.self).streams
    }

    /// `GET /streamer/api/v3/config` → the node's `hostname` (its `HOSTNAME`; the pod name in Kubernetes).
    public func hostname() async throws(ReplicationError) -> String {
        struct Body: Decodable { var hostname: String }
        return try await json(request(.GET, "/streamer/api/v3/config"), "the node's configuration", as: Body.self).hostname
    }

    /// `GET …/dvr/segments?from=`.
    public func segments(_ name: String, fromSeconds: Int64) async throws(ReplicationError) -> [RemoteSegment] {
        struct Body: Decodable { var segments: [RemoteSegment] }
        let path = "/streamer/api/v3/streams/\(name)/dvr/segments"
        return try await json(request(.GET, path, query: "from=\(max(0, fromSeconds))"), "dvr/segments of \(name)", as: Body.self).segments
    }

    /// `GET /{name}/archive-FROM-DURATION.m4f`: the response, whose body is streamed by the caller.
    public func archive(_ name: String, from: Int64, duration: Int64) async throws(ReplicationError) -> HTTPClientResponse {
        try await send(request(.GET, "/\(name)/archive-\(from)-\(duration).m4f"), "the archive of \(name)", timeout: .seconds(3600))
    }

    /// What `dvr/import` answered.
    public struct ImportResult: Decodable, Sendable {
        public struct Segment: Decodable, Sendable {
            public var startMs: Int64
            public var status: String
            public var detail: String?
            enum CodingKeys: String, CodingKey {
                case status, detail
                case startMs = "start_ms"
            }
        }
        public var stored: Int
        public var existing: Int
        public var rejected: Int
        public var error: String?
        public var segments: [Segment]
    }

    /// `POST …/dvr/import` with a streamed body.
    public func importArchive<Body: AsyncSequence & Sendable>(_ name: String, body: Body) async throws(ReplicationError) -> ImportResult
    where Body.Element == ByteBuffer {
        var request = request(.POST, "/streamer/api/v3/streams/\(name)/dvr/import")
        request.body = .stream(body, length: .unknown)
        return try await json(request, "dvr/import of \(name)", as: ImportResult.self)
    }

    /// `POST …/dvr/replication`: progress for the stream API.
    public func reportProgress(_ name: String, percent: Double, running: Bool) async {
        var request = request(.POST, "/streamer/api/v3/streams/\(name)/dvr/replication")
        request.body = .bytes(ByteBuffer(string: "{\"percent\": \(min(100, max(0, percent))), \"running\": \(running)}"))
        _ = try? await client.execute(request, timeout: .seconds(5))
    }
}
