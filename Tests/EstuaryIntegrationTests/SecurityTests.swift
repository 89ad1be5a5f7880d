import AsyncHTTPClient
import EstuaryAccess
import EstuaryConfig
import EstuaryNode
import EstuarySidecar
import EstuarySources
import EstuaryTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// An `on_play`/`on_publish` backend for tests: allows the token `good`, denies everything else, and records
/// every question it was asked.
final class AuthBackendStub: Sendable {
    let asked = Mutex<[[String: String]]>([])

    var questions: [[String: String]] { asked.withLock { $0 } }

    func run(ready: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router(context: BasicRequestContext.self)
        router.get("**") { request, _ -> Response in
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
            query["path"] = request.uri.path
            self.asked.withLock { $0.append(query) }
            return Response(status: query["token"] == "good" ? .ok : .forbidden)
        }
        var logger = Logger(label: "test.auth")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { ready($0.localAddress?.port ?? 0) }, logger: logger)
        try await app.run()
    }
}

func withAuthBackend<T: Sendable>(_ body: (AuthBackendStub, Int) async throws -> T) async throws -> T {
    let stub = AuthBackendStub()
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let task = Task { try await stub.run { continuation.yield($0) } }
    defer { task.cancel() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw TestFailure("the auth backend did not start") }
    return try await body(stub, port)
}

/// Collects every log line (message and metadata) of a test, to search it for secrets.
final class CollectedLogs: Sendable {
    let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    func handler(label: String) -> some LogHandler { Handler(label: label, logs: self) }

    struct Handler: LogHandler {
        var label: String
        let logs: CollectedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            logs.lines.withLock { $0.append("\(event.level) \(label) \(event.message) \(merged)") }
        }
    }
}

func basicAuth(_ user: String, _ password: String) -> String {
    "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
}

/// A request with optional credentials and body; returns status, headers and body text.
func authedRequest(
    _ method: HTTPMethod, _ url: String, authorization: String? = nil, json: String? = nil
) async throws -> (status: Int, headers: HTTPHeaders, body: String) {
    var request = HTTPClientRequest(url: url)
    request.method = method
    if let authorization { request.headers.add(name: "Authorization", value: authorization) }
    if let json {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
    }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
    let body = try await response.body.collect(upTo: 16 << 20)
    return (Int(response.status.code), response.headers, String(buffer: body))
}

extension IntegrationTests {
    /// Issue 9: API credentials, playback and publish authorization, hostile clients, secrets hygiene.
    @Suite(.serialized) struct SecurityTests {
        static let access = AccessConfig(
            editAuth: UserPassword(user: "admin", password: "edit-pw-71"), viewAuth: UserPassword(user: "viewer", password: "view-pw-72"),
            apiTokens: [APIToken(token: "tok-edit-73", role: .edit), APIToken(token: "tok-view-74", role: .view)])
        static let editCredentials = [basicAuth("admin", "edit-pw-71"), "Bearer tok-edit-73"]
        static let viewCredentials = [basicAuth("viewer", "view-pw-72"), "Bearer tok-view-74"]
        static let wrongCredentials = [basicAuth("admin", "guess"), "Bearer tok-edit-7"]

        /// Checks one write: none → 401 with both challenges, wrong → 401, view → 403, edit → `accepted`.
        static func checkWrite(
            _ method: HTTPMethod, _ url: String, json: String? = nil, accepted: Set<Int>, editIndex: Int
        ) async throws {
            let none = try await authedRequest(method, url, json: json)
            #expect(none.status == 401, "\(method) \(url) without credentials: \(none.status) \(none.body)")
            let challenges = none.headers["WWW-Authenticate"].joined(separator: ",")
            #expect(challenges.contains("Basic") && challenges.contains("Bearer"), "\(challenges)")
            #expect(none.body.contains("\"error\""), "a JSON error: \(none.body)")
            // One wrong credential per endpoint (alternating Basic and Bearer): more would trip the failure throttle.
            let wrong = try await authedRequest(method, url, authorization: wrongCredentials[editIndex % 2], json: json)
            #expect(wrong.status == 401, "\(method) \(url) with wrong credentials: \(wrong.status)")
            for view in viewCredentials {
                let answer = try await authedRequest(method, url, authorization: view, json: json)
                #expect(answer.status == 403, "\(method) \(url) with view credentials: \(answer.status) \(answer.body)")
            }
            let edit = try await authedRequest(method, url, authorization: editCredentials[editIndex % 2], json: json)
            #expect(accepted.contains(edit.status), "\(method) \(url) with edit credentials: \(edit.status) \(edit.body)")
        }

        @Test func theNodeAPIAsksForCredentialsAndRights() async throws {
            try await withNode(streams: [], options: { $0.access = Self.access }) { _, port in
                let api = "http://127.0.0.1:\(port)/streamer/api/v3"
                let body = #"{"name": "cam9", "inputs": [{"url": "fake://cam9"}]}"#
                try await Self.checkWrite(.PUT, "\(api)/streams/cam9", json: body, accepted: [200], editIndex: 0)
                try await Self.checkWrite(
                    .DELETE, "\(api)/streams/cam9/dvr/ranges", json: #"{"from": 0, "to": 1}"#, accepted: [400, 404], editIndex: 1)
                try await Self.checkWrite(.PUT, "\(api)/config", json: #"{}"#, accepted: [200], editIndex: 0)
                try await Self.checkWrite(.POST, "\(api)/streams/cam9", json: "{}", accepted: [404], editIndex: 1)
                try await Self.checkWrite(.DELETE, "\(api)/streams/cam9", accepted: [204], editIndex: 0)

                // Reads need view rights (view_auth is set); edit rights include them.
                #expect(try await authedRequest(.GET, "\(api)/streams").status == 401)
                #expect(try await authedRequest(.GET, "\(api)/streams", authorization: basicAuth("viewer", "nope")).status == 401)
                for credentials in Self.viewCredentials + Self.editCredentials {
                    #expect(try await authedRequest(.GET, "\(api)/streams", authorization: credentials).status == 200)
                }
                // Operations stay open; /metrics too while metrics_auth is not set.
                for path in ["/healthz", "/readyz", "/metrics"] {
                    #expect(try await authedRequest(.GET, "http://127.0.0.1:\(port)\(path)").status == 200, "\(path)")
                }

                // Guessing is slowed down: 10 wrong credentials from one address within a minute, then 429
                // even for the right ones (6 wrong ones were spent above).
                var statuses: [Int] = []
                for attempt in 0..<8 {
                    statuses.append(
                        try await authedRequest(.GET, "\(api)/streams", authorization: basicAuth("admin", "g\(attempt)")).status)
                }
                #expect(statuses.prefix(4).allSatisfy { $0 == 401 }, "\(statuses)")
                #expect(statuses.suffix(4).allSatisfy { $0 == 429 }, "\(statuses)")
                let blocked = try await authedRequest(.GET, "\(api)/streams", authorization: Self.editCredentials[0])
                #expect(blocked.status == 429)
                #expect(Int(blocked.headers.first(name: "Retry-After") ?? "") ?? 0 > 0)
                #expect(try await authedRequest(.GET, "http://127.0.0.1:\(port)/healthz").status == 200, "open endpoints stay open")
            }
        }

        @Test func metricsAskForCredentialsOnlyWhenMetricsAuthIsSet() async throws {
            var access = AccessConfig(metricsAuth: UserPassword(user: "prom", password: "scrape-75"))
            access.apiTokens = [APIToken(token: "tok-view-76", role: .view)]
            try await withNode(streams: [], options: { $0.access = access }) { _, port in
                let url = "http://127.0.0.1:\(port)/metrics"
                let anonymous = try await authedRequest(.GET, url)
                #expect(anonymous.status == 401)
                #expect(try await authedRequest(.GET, url, authorization: basicAuth("prom", "scrape-75")).status == 200)
                #expect(try await authedRequest(.GET, url, authorization: "Bearer tok-view-76").status == 200)
                #expect(try await authedRequest(.GET, url, authorization: basicAuth("prom", "x")).status == 401)
            }
        }

        @Test func theSidecarAdminAPIAsksForCredentialsAndRights() async throws {
            try await withTemporaryDirectory { directory in
                let yaml = directory.appendingPathComponent("central.yaml")
                try "streams:\n  - {name: cam1, inputs: [{url: \"fake://cam1\"}]}\n".write(to: yaml, atomically: true, encoding: .utf8)
                var settings = SidecarSettings(
                    listenHost: "127.0.0.1", listenPort: 0, upstream: "file://\(yaml.path)",
                    identity: SidecarIdentity(hostname: "ingest-0"),
                    nodeURL: "")
                settings.access = Self.access
                try await withSidecar(settings) { sidecar, port in
                    let base = "http://127.0.0.1:\(port)"
                    try await waitUntil("the sidecar has its configuration") { sidecar.state.config != nil }
                    // The node's own endpoints stay open.
                    #expect(try await authedRequest(.GET, "\(base)/streams").status == 200)
                    #expect(try await authedRequest(.GET, "\(base)/healthz").status == 200)
                    #expect(try await authedRequest(.GET, "\(base)/admin/streams").status == 401)
                    for credentials in Self.viewCredentials {
                        #expect(try await authedRequest(.GET, "\(base)/admin/streams", authorization: credentials).status == 200)
                    }
                    // The file upstream cannot be written through: edit rights reach the handler, which answers
                    // 409 read_only (or 404 for what does not exist).
                    let body = #"{"inputs": [{"url": "fake://cam2"}]}"#
                    try await Self.checkWrite(.PUT, "\(base)/admin/streams/cam2", json: body, accepted: [409], editIndex: 0)
                    try await Self.checkWrite(.DELETE, "\(base)/admin/streams/cam1", accepted: [409], editIndex: 1)
                    // (an empty episode is refused by the handler's validation: that, too, is past authentication.)
                    try await Self.checkWrite(.PUT, "\(base)/admin/episodes", json: "{}", accepted: [400], editIndex: 0)
                    try await Self.checkWrite(.DELETE, "\(base)/admin/episodes/1", accepted: [404, 409], editIndex: 1)
                }
            }
        }

        @Test func onPlayAllowsDeniesCachesAndFailsClosedOrOpen() async throws {
            try await withAuthBackend { stub, authPort in
                var access = AccessConfig()
                access.onPlay = "http://127.0.0.1:\(authPort)/play"
                try await withNode(streams: [stream("cam", "fake://cam")], options: { $0.access = access }) { node, port in
                    try await waitUntil("the stream is alive") { node.manager.stream(named: "cam")?.isAlive == true }
                    let playlist = try await httpGet("http://127.0.0.1:\(port)/cam/index.m3u8?token=good")
                    #expect(playlist.status == 200, "\(playlist.body)")
                    let uris = playlist.body.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
                    try #require(!uris.isEmpty)
                    #expect(uris.allSatisfy { $0.hasSuffix("token=good") }, "the token follows the session: \(uris)")
                    #expect(playlist.body.contains("init-1.mp4?token=good") || playlist.body.contains(".mp4?token=good"))
                    let segment = try await httpGet("http://127.0.0.1:\(port)/cam/\(uris[0])")
                    #expect(segment.status == 200)
                    let first = try #require(stub.questions.first)
                    #expect(first["name"] == "cam" && first["token"] == "good" && first["proto"] == "hls" && first["ip"] == "127.0.0.1")
                    #expect(first["path"] == "/play")
                    #expect(stub.questions.count == 1, "the segment was allowed from the cache: \(stub.questions)")
                    _ = try await httpGet("http://127.0.0.1:\(port)/cam/index.m3u8?token=good")
                    #expect(stub.questions.count == 1, "a second playlist within a few seconds is a cache hit")
                    #expect(node.authorization.statistics.cacheHits >= 2)

                    let denied = try await httpGet("http://127.0.0.1:\(port)/cam/index.m3u8?token=bad")
                    #expect(denied.status == 403 && denied.body.contains("play_denied"), "\(denied)")
                    #expect(try await httpStatus("http://127.0.0.1:\(port)/cam/mpegts") == 403, "no token is denied too")
                    #expect(try await httpStatus("http://127.0.0.1:\(port)/cam/mpegts?token=good") == 200)
                    #expect(stub.questions.contains { $0["proto"] == "mpegts" && $0["token"] == nil })
                }
            }
            // A backend nobody answers: closed by default, open when configured.
            let deadPort = try await freeTCPPort()
            for failOpen in [false, true] {
                var access = AccessConfig(onPlay: "http://127.0.0.1:\(deadPort)/play?key=backend-key-77")
                access.backendFailOpen = failOpen
                try await withNode(streams: [stream("cam", "fake://cam")], options: { $0.access = access }) { node, port in
                    try await waitUntil("the stream is alive") { node.manager.stream(named: "cam")?.isAlive == true }
                    let answer = try await authedRequest(.GET, "http://127.0.0.1:\(port)/cam/index.m3u8?token=good")
                    if failOpen {
                        #expect(answer.status == 200, "fail open plays: \(answer.body)")
                    } else {
                        #expect(answer.status == 403 && answer.body.contains("auth_backend_unavailable"), "\(answer.body)")
                        #expect(!answer.body.contains("backend-key-77"), "the backend's key is not shown")
                    }
                }
            }
        }

        @Test func publishersAreCheckedByPasswordAndOnPublish() async throws {
            try await withAuthBackend { stub, authPort in
                var gated = StreamConfig(name: "gated", inputs: [InputConfig(url: "publish://", sourceTimeout: 5)])
                gated.onPublish = "http://127.0.0.1:\(authPort)/publish"
                let locked = StreamConfig(name: "locked", inputs: [InputConfig(url: "publish://", sourceTimeout: 5)], password: "pub-pw-78")
                try await withNode(streams: [gated, locked]) { _, port in
                    // M4F push with a wrong password, and one the on_publish backend refuses: refused before any byte is taken.
                    let wrong = try await authedRequest(.POST, "http://127.0.0.1:\(port)/locked/m4f?password=nope", json: "")
                    #expect(wrong.status == 403 && wrong.body.contains("wrong_password"), "\(wrong)")
                    #expect(!wrong.body.contains("pub-pw-78"))
                    let refused = try await authedRequest(.POST, "http://127.0.0.1:\(port)/gated/m4f?password=bad", json: "")
                    #expect(refused.status == 403 && refused.body.contains("publish_denied"), "\(refused)")
                    #expect(stub.questions.last?["kind"] == "publish" && stub.questions.last?["proto"] == "m4f")
                    // With the token the backend allows, the push is admitted (an empty body then ends it).
                    let allowed = try await authedRequest(.POST, "http://127.0.0.1:\(port)/gated/m4f?password=good", json: "")
                    #expect(allowed.status == 200, "\(allowed)")
                }
                guard FFmpegTool.enabled else { return }
                try await withTemporaryDirectory { directory in
                    let clip = try await PublishTests.makeClip(in: directory)
                    var live = gated
                    live.name = "live/gated"
                    try await withNode(streams: [live], options: { $0.rtmpPort = 0 }) { node, _ in
                        try await waitUntil("the RTMP listener is up") { node.rtmpPort != nil }
                        let rtmp = try #require(node.rtmpPort)
                        let refused = try PublishTests.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/live/gated?password=bad", loops: 0)
                        defer { if refused.isRunning { kill(refused.processIdentifier, SIGKILL) } }
                        try await waitUntil("the refused publisher exits", timeout: .seconds(20)) { !refused.isRunning }
                        #expect(refused.terminationStatus != 0, "on_publish refused the RTMP publisher")
                        #expect(stub.questions.contains { $0["proto"] == "rtmp" && $0["token"] == "bad" })
                        let admitted = try PublishTests.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/live/gated?password=good")
                        defer { if admitted.isRunning { kill(admitted.processIdentifier, SIGKILL) } }
                        try await waitUntil("the admitted publisher feeds the stream", timeout: .seconds(20)) {
                            node.manager.stream(named: "live/gated")?.isAlive == true
                        }
                    }
                }
            }
        }

        /// A client that pipelines a short request and a live stream: the idle timeout that starts when the first
        /// response ends must not cut the second, which was already asked for.
        @Test func aPipelinedLiveStreamOutlivesTheIdleTimeout() async throws {
            var access = AccessConfig()
            access.clientLimits = ClientLimits(requestTimeout: 2, idleTimeout: 2)
            try await withNode(streams: [stream("cam", "fake://cam")], options: { $0.access = access }) { node, port in
                try await waitUntil("the stream is alive") { node.manager.stream(named: "cam")?.isAlive == true }
                final class Received: ChannelInboundHandler, Sendable {
                    typealias InboundIn = ByteBuffer
                    let bytes = Mutex<[UInt8]>([])
                    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                        let buffer = unwrapInboundIn(data)
                        bytes.withLock { $0 += buffer.readableBytesView }
                    }
                }
                let received = Received()
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(received) }
                    }
                    .connect(host: "127.0.0.1", port: port).get()
                defer { channel.close(promise: nil) }
                let started = ContinuousClock.now
                try await channel.writeAndFlush(
                    ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /cam/m4f HTTP/1.1\r\nHost: x\r\n\r\n"))
                // Two seconds past the idle timeout, media still arrives on the open connection.
                try await waitUntil("4 s of the pipelined stream", timeout: .seconds(10)) { ContinuousClock.now - started >= .seconds(4) }
                let early = received.bytes.withLock { $0.count }
                try await waitUntil("more media after 4 s", timeout: .seconds(5)) { received.bytes.withLock { $0.count } > early }
                #expect(channel.isActive)
                let text = String(decoding: received.bytes.withLock { $0 }.prefix(4096), as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 200"))
                #expect(!String(decoding: received.bytes.withLock { $0 }, as: UTF8.self).contains("request_timeout"))
            }
        }

        /// 1,000 clients sending one byte per second from 127.0.0.2, and oversized headers, while a normal
        /// client on 127.0.0.1 plays a stream.
        @Test func slowClientsAndOversizedHeadersDoNotStopANormalClient() async throws {
            var access = AccessConfig()
            access.clientLimits = ClientLimits(connections: 5_000, connectionsPerIP: 300, requestTimeout: 3, headerBytes: 8_192)
            try await withNode(streams: [stream("cam", "fake://cam")], options: { $0.access = access }) { node, port in
                try await waitUntil("the stream is alive") { node.manager.stream(named: "cam")?.isAlive == true }
                let group = MultiThreadedEventLoopGroup.singleton
                let closed = Mutex(0)
                var channels: [any Channel] = []
                for _ in 0..<1_000 {
                    let channel = try await ClientBootstrap(group: group)
                        .bind(to: try SocketAddress(ipAddress: "127.0.0.2", port: 0))
                        .connect(host: "127.0.0.1", port: port).get()
                    channel.closeFuture.whenComplete { _ in closed.withLock { $0 += 1 } }
                    channels.append(channel)
                }
                defer { for channel in channels { channel.close(promise: nil) } }
                // One byte per second each, for up to 8 s: a request head that never ends.
                let request = Array("GET /cam/index.m3u8 HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)
                let slowChannels = channels
                let dripper = Task {
                    for second in 0..<8 where !Task.isCancelled {
                        for channel in slowChannels where channel.isActive {
                            channel.writeAndFlush(ByteBuffer(bytes: [request[second % request.count]]), promise: nil)
                        }
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                defer { dripper.cancel() }

                // The normal client plays meanwhile.
                let started = ContinuousClock.now
                let playlist = try await httpGet("http://127.0.0.1:\(port)/cam/index.m3u8", timeout: 10)
                #expect(playlist.status == 200)
                let segments = playlist.body.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
                let segment = try await httpGet("http://127.0.0.1:\(port)/cam/\(try #require(segments.last))", timeout: 10)
                #expect(segment.status == 200 && !segment.body.isEmpty)
                let m4f = try await readM4F(url: "http://127.0.0.1:\(port)/cam/m4f", timeout: .seconds(10)) { _, fragments, _ in
                    fragments.count >= 2
                }
                #expect(m4f.fragments.count >= 2)
                #expect(ContinuousClock.now - started < .seconds(12))

                // Oversized headers: 431, and the node keeps serving.
                let big = try await httpGet("http://127.0.0.1:\(port)/healthz", headers: [("X-Big", String(repeating: "a", count: 20_000))])
                #expect(big.status == 431 && big.body.contains("headers_too_large"), "\(big.status) \(big.body)")
                #expect(try await httpStatus("http://127.0.0.1:\(port)/healthz") == 200)

                // Every slow client is cut off: the 700 over the per-address cap at once, the rest at the request deadline.
                try await waitUntil("every slow connection is closed", timeout: .seconds(15)) { closed.withLock { $0 } == 1_000 }
                let snapshot = node.connections.snapshot
                #expect(snapshot.refused >= 700, "\(snapshot)")
                #expect(snapshot.timedOut >= 300, "\(snapshot)")
                #expect(try await httpStatus("http://127.0.0.1:\(port)/healthz") == 200)
            }
        }

        /// Oversized bodies, names that climb out of a directory or carry NUL, and archive ranges that would
        /// overflow each answer a 4xx with a message; the node keeps serving and its archive stays in its root.
        @Test func hostileRequestsAnswerAClientErrorAndCostNothing() async throws {
            try await withTemporaryDirectory { directory in
                let root = directory.appendingPathComponent("archive").path
                var access = AccessConfig()
                access.apiDVRRoots = [root]
                try await withNode(streams: [recorded("rec", root: root)], logLevel: .critical, options: { $0.access = access }) {
                    node, port in
                    try await waitUntil("the recorded stream is alive") { node.manager.stream(named: "rec")?.isAlive == true }
                    let base = "http://127.0.0.1:\(port)"
                    let large = "{\"inputs\": [{\"url\": \"fake://x\"}], \"pad\": \"\(String(repeating: "a", count: 2 << 20))\"}"
                    let tooLarge = try await httpSend(.PUT, "\(base)/streamer/api/v3/streams/big", json: large)
                    #expect(tooLarge.status == 413, "\(tooLarge.status) \(tooLarge.body.prefix(200))")
                    let hostile: [(HTTPMethod, String, String?)] = [
                        (.PUT, "/streamer/api/v3/streams/..%2F..%2Fescape", #"{"inputs": [{"url": "fake://x"}]}"#),
                        (.PUT, "/streamer/api/v3/streams/a%00b", #"{"inputs": [{"url": "fake://x"}]}"#),
                        (.PUT, "/streamer/api/v3/streams/ok", #"{"inputs": [{"url": "fake://x"}], "dvr": {"root": "/etc"}}"#),
                        (
                            .PUT, "/streamer/api/v3/streams/ok2",
                            "{\"inputs\": [{\"url\": \"fake://x\"}], \"dvr\": {\"root\": \"\(root)/../..\"}}"
                        ),
                        (.GET, "/..%2F..%2Fetc%2Fpasswd/index.m3u8", nil),
                        (.GET, "/rec%00/index.m3u8", nil),
                        (.GET, "/rec/archive-99999999999999999999-60.mp4", nil),
                        (.GET, "/rec/archive-9223372036854775807-9223372036854775807.mp4", nil),
                        (.GET, "/rec/archive-1700000000-99999999999.m3u8", nil),
                        (.GET, "/streamer/api/v3/streams/rec/dvr/segments?from=-99999999999999999999", nil),
                    ]
                    for (method, path, body) in hostile {
                        let answer = try await httpSend(method, base + path, json: body)
                        #expect((400..<500).contains(answer.status), "\(method) \(path) answered \(answer.status)")
                        #expect(answer.body.contains("error"), "\(method) \(path) answered without a message: \(answer.body)")
                    }
                    #expect(node.manager.stream(named: "ok") == nil && node.manager.stream(named: "ok2") == nil)
                    #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("escape").path))
                    #expect(try await httpStatus("\(base)/healthz") == 200)
                    #expect(node.manager.stream(named: "rec")?.isAlive == true, "the recorded stream still runs")
                }
            }
        }

        @Test func secretsNeverReachLogsMetricsOrAPIOutput() async throws {
            let secrets = [
                "cluster-key-81", "edit-pw-82", "tok-edit-83", "pub-pw-84", "cam-pw-85", "play-key-86", "backend-key-87", "push-pw-88",
            ]
            let logs = CollectedLogs()
            try await withAuthBackend { _, authPort in
                var access = AccessConfig(editAuth: UserPassword(user: "admin", password: "edit-pw-82"))
                access.apiTokens = [APIToken(token: "tok-edit-83", role: .edit)]
                access.onPlay = "http://127.0.0.1:\(authPort)/play?key=play-key-86"
                let rtspPort = try await freeTCPPort()
                var camera = StreamConfig(
                    name: "cam", inputs: [InputConfig(url: "rtsp://viewer:cam-pw-85@127.0.0.1:\(rtspPort)/s1", sourceTimeout: 2)],
                    password: "pub-pw-84")
                camera.pushes = [PushConfig(url: "m4f://127.0.0.1:\(rtspPort)/x?password=push-pw-88")]
                let fake = StreamConfig(name: "fake", inputs: [InputConfig(url: "fake://fake")], password: "pub-pw-84")
                var options = NodeOptions(httpHost: "127.0.0.1", httpPort: 0, clusterKey: "cluster-key-81", hostname: "secrets")
                options.access = access
                options.configExternalOverride = "http://backend-key-87@127.0.0.1:\(rtspPort)/streams"
                let node = Node(
                    options: options, streams: [camera, fake],
                    logger: {
                        var logger = Logger(label: "secrets", factory: logs.handler); logger.logLevel = .trace; return logger
                    }())
                var served: [String] = []
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await node.run() }
                    let port = await node.waitUntilListening()
                    let base = "http://127.0.0.1:\(port)"
                    let auth = basicAuth("admin", "edit-pw-82")
                    try await waitUntil("the camera failed at least once", timeout: .seconds(20)) {
                        (node.manager.stream(named: "cam")?.inputStatus.snapshot.reconnects ?? 0) >= 1
                    }
                    for path in ["/streamer/api/v3/streams", "/streamer/api/v3/streams/cam", "/streamer/api/v3/config", "/metrics"] {
                        served.append(try await authedRequest(.GET, base + path, authorization: auth).body)
                    }
                    // Errors that involve secrets: wrong credentials, a refused play, a wrong publish password.
                    served.append(try await authedRequest(.GET, base + "/streamer/api/v3/streams", authorization: "Bearer tok-edit-8").body)
                    served.append(try await authedRequest(.GET, base + "/fake/index.m3u8?token=nope").body)
                    served.append(try await authedRequest(.POST, base + "/fake/m4f?password=pub-pw-8", json: "").body)
                    served.append(try await authedRequest(.PUT, base + "/streamer/api/v3/config", authorization: auth, json: "{}").body)
                    group.cancelAll()
                }
                let everything = served.joined(separator: "\n") + "\n" + logs.text
                #expect(!logs.text.isEmpty && served.count == 8)
                #expect(everything.contains("***"), "secrets are masked, not dropped silently")
                for secret in secrets {
                    #expect(!everything.contains(secret), "\(secret) leaked")
                }
            }
        }
    }
}
