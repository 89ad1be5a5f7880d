import AsyncHTTPClient
import EstuaryClusterAuth
import EstuaryMP4
import EstuaryMedia
import EstuaryTLS
import NIOCore
import NIOHTTP1

/// `m4f://host:port/name`: pulls another node's live M4F output (`GET /name/m4f`), signed
/// with the cluster key when one is configured, and relays its frames with their UTC times.
/// `m4fs://host:port/name` does the same over HTTPS (default port 443), verifying the node's certificate
/// against the client's trust (the system roots plus `tls.ca`).
/// Upstream fragment boundaries are kept (the sink is flushed after each fragment).
/// The request carries this node process's random identity (`X-Estuary-Instance`); a node asked for its own stream
/// answers 508, which ends the input with ``SourceError/loop(url:)`` instead of feeding the stream its own output.
public struct M4FSource: MediaSource {
    /// The header carrying the reading node's instance identity.
    public static let instanceHeader = "X-Estuary-Instance"
    public let displayURL: String
    let requestURL: String
    let requestPath: String
    let client: HTTPClient
    let auth: ClusterAuth?
    let instanceID: String?

    public init(url: String, displayURL: String, client: HTTPClient, auth: ClusterAuth?, instanceID: String? = nil) throws(SourceError) {
        self.instanceID = instanceID
        let parsed = try InputURL(parsing: url)
        guard !parsed.host.isEmpty else { throw .invalidURL(displayURL, reason: "missing host") }
        let name = parsed.path.drop { $0 == "/" }
        guard !name.isEmpty else { throw .invalidURL(displayURL, reason: "missing stream name") }
        self.displayURL = displayURL
        self.requestPath = "/\(name)/m4f"
        let host = parsed.host.contains(":") ? "[\(parsed.host)]" : parsed.host
        let secure = parsed.scheme == "m4fs"
        self.requestURL = "\(secure ? "https" : "http")://\(host):\(parsed.port ?? (secure ? 443 : 80))\(requestPath)"
        self.client = client
        self.auth = auth
    }

    public func run(into sink: some MediaSink) async throws {
        var request = HTTPClientRequest(url: requestURL)
        if let auth {
            request.headers.add(name: "Authorization", value: auth.authorizationHeader(method: "GET", path: requestPath))
        }
        if let instanceID { request.headers.add(name: Self.instanceHeader, value: instanceID) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(10))
        } catch {
            if Task.isCancelled { return }
            throw SourceError.connectionFailed(url: displayURL, reason: TLSError.explain(error) ?? "\(error)")
        }
        if response.status == .unauthorized { throw SourceError.unauthorized(url: displayURL) }
        if response.status.code == 508 { throw SourceError.loop(url: displayURL) }
        guard response.status == .ok else { throw SourceError.httpStatus(url: displayURL, status: Int(response.status.code)) }
        var reader = M4FReader()
        do {
            for try await bytes in response.body {
                for event in reader.feed(bytes, arrivalMicros: WallClock.nowMicros()) {
                    Self.deliver(event, to: sink)
                }
            }
        } catch {
            if Task.isCancelled { return }
            throw SourceError.connectionFailed(url: displayURL, reason: "\(error)")
        }
        if Task.isCancelled { return }
        throw SourceError.endOfStream(url: displayURL)
    }

    /// Hands one reader event to a sink: tracks, then frames followed by a flush (the upstream
    /// fragment boundary), then the bytes as received; damaged boxes become input errors.
    public static func deliver(_ event: M4FReader.Event, to sink: some MediaSink) {
        switch event {
        case .initialization(let tracks, let raw):
            sink.setTracks(tracks)
            sink.passthrough(PassthroughChunk(isInitialization: true, bytes: raw, startsSegment: false, wallClockMicros: 0, duration: 0))
        case .fragment(let fragment):
            for frame in fragment.frames { sink.push(frame) }
            sink.flush()
            sink.passthrough(
                PassthroughChunk(
                    isInitialization: false, bytes: fragment.raw, startsSegment: fragment.startsSegment,
                    wallClockMicros: fragment.wallClockMicros, duration: fragment.duration))
        case .error(let error):
            sink.inputError("\(error)")
        }
    }
}
