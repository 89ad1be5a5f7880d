import AsyncHTTPClient
import EstuaryClusterAuth
import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuarySources
import EstuaryTLS
import Logging
import NIOCore
import NIOHTTP1

/// One push of a stream to another node (`pushes: [{url: m4f://host:port/name}]`): sends the stream's
/// live M4F as the chunked body of `POST /name/m4f`, signed with the cluster key, for the receiving node's
/// `publish://` input.
///
/// Guarantees: a refused or broken push is retried with backoff (0.5 s doubling to 10 s) for as long as the
/// stream runs; each attempt starts at the stream's last keyframe (its init segment first); the receiver's
/// refusal (401, 403, 404, 409) is logged with its reason; other schemes are reported once and not retried.
struct M4FPusher: Sendable {
    let display: String
    let target: Result<(url: String, path: String), SourceError>
    let hub: StreamHub<LiveChunk>
    let client: HTTPClient
    let auth: ClusterAuth?
    let status: PushStatus
    let logger: Logger

    init(
        push: PushConfig, stream: String, hub: StreamHub<LiveChunk>, client: HTTPClient, clusterKey: String?, status: PushStatus,
        logger: Logger
    ) {
        display = SecretMasking.mask(url: push.url)
        self.hub = hub
        self.client = client
        self.status = status
        self.logger = logger
        auth = clusterKey.map { ClusterAuth(key: $0) }
        target = Result { () throws(SourceError) -> (url: String, path: String) in
            let parsed = try InputURL(parsing: push.url)
            guard parsed.scheme == "m4f" || parsed.scheme == "m4fs" else {
                throw .invalidURL(
                    SecretMasking.mask(url: push.url), reason: "only m4f:// and m4fs:// pushes are supported, not \(parsed.scheme)://")
            }
            guard !parsed.host.isEmpty else { throw .invalidURL(SecretMasking.mask(url: push.url), reason: "missing host") }
            let name = parsed.path.drop { $0 == "/" }
            let path = "/\(name.isEmpty ? Substring(stream) : name)/m4f"
            let host = parsed.host.contains(":") ? "[\(parsed.host)]" : parsed.host
            let query = parsed.query.isEmpty ? "" : "?\(parsed.query)"
            let secure = parsed.scheme == "m4fs"
            return ("\(secure ? "https" : "http")://\(host):\(parsed.port ?? (secure ? 443 : 80))\(path)\(query)", path)
        }
    }

    /// Pushes until the task is cancelled.
    func run() async {
        let target: (url: String, path: String)
        switch self.target {
        case .success(let value): target = value
        case .failure(let error):
            status.failed(display, error: error.description)
            logger.error("push not started", metadata: ["push": .string(display), "error": .string(error.description)])
            return
        }
        var failures = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                try await pushOnce(to: target)
                if Task.isCancelled { return }
                throw SourceError.endOfStream(url: display)
            } catch {
                if Task.isCancelled { return }
                let reason = TLSError.explain(error) ?? "\(error)"
                status.failed(display, error: reason)
                logger.warning("push failed", metadata: ["push": .string(display), "error": .string(reason)])
            }
            failures = ContinuousClock.now - started > .seconds(30) ? 1 : failures + 1
            let delay = min(Duration.milliseconds(500) * (1 << min(failures - 1, 5)), .seconds(10))
            try? await Task.sleep(for: delay + .milliseconds(Int.random(in: 0...100)))
        }
    }

    private func pushOnce(to target: (url: String, path: String)) async throws {
        status.connecting(display)
        let subscription = hub.subscribe()
        defer { subscription.cancel() }
        let display = self.display
        let status = self.status
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "video/mp4")
        if let auth {
            request.headers.add(name: "Authorization", value: auth.authorizationHeader(method: "POST", path: target.path))
        }
        request.body = .stream(
            subscription.map { chunk in
                status.sent(display, bytes: chunk.bytes.readableBytes)
                return chunk.bytes
            }, length: .unknown)
        status.running(display)
        let response = try await client.execute(request, deadline: .distantFuture)
        var detail = ""
        for try await bytes in response.body where detail.utf8.count < 1_024 {
            detail += String(buffer: bytes)
        }
        guard response.status == .ok else {
            throw SourceError.connectionFailed(url: display, reason: "the receiver answered HTTP \(response.status.code) \(detail)")
        }
    }
}
