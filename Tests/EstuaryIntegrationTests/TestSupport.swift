import AsyncHTTPClient
import EstuaryClusterAuth
import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuaryMP4
import EstuaryMedia
import EstuaryNode
import EstuarySources
import EstuaryTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

extension FFmpegTool {
    /// ffprobe's summary of one stream: codec, width, height, frames decoded.
    struct StreamSummary: Equatable {
        var codec: String
        var width: Int?
        var height: Int?
        var frames: Int?
    }

    /// Runs ffprobe on `url` (reading `readSeconds` of media from a live URL) and summarises its streams.
    static func probe(_ url: String, readSeconds: Int? = nil) async throws -> [StreamSummary] {
        var arguments = [
            "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0",
        ]
        if let readSeconds { arguments += ["-read_intervals", "%+\(readSeconds)"] }
        arguments.append(url)
        let output = String(decoding: try await run("ffprobe", arguments, timeout: .seconds(60)), as: UTF8.self)
        return output.split(separator: "\n").map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return StreamSummary(
                codec: fields.first ?? "", width: fields.count > 1 ? Int(fields[1]) : nil, height: fields.count > 2 ? Int(fields[2]) : nil,
                frames: fields.last.flatMap { Int($0) })
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a node on 127.0.0.1 with a free port for the duration of `body`.
func withNode<T: Sendable>(
    streams: [StreamConfig], clusterKey: String? = nil, logLevel: Logger.Level = .warning,
    options configure: (inout NodeOptions) -> Void = { _ in },
    _ body: (Node, Int) async throws -> T
) async throws -> T {
    var options = NodeOptions(httpHost: "127.0.0.1", httpPort: 0, clusterKey: clusterKey, hostname: "test-node")
    configure(&options)
    var logger = Logger(label: "test.node")
    logger.logLevel = logLevel
    let node = Node(options: options, streams: streams, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await node.run() }
        let port = await node.waitUntilListening()
        do {
            let result = try await body(node, port)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

func stream(_ name: String, _ urls: String..., timeout: Int = 3) -> StreamConfig {
    StreamConfig(name: name, inputs: urls.enumerated().map { InputConfig(url: $1, sourceTimeout: timeout, priority: $0) })
}

/// Reads a live M4F response with our reader until `enough` says stop or the deadline passes.
func readM4F(
    url: String, authorization: String? = nil, timeout: Duration = .seconds(20),
    until enough: @Sendable ([TrackInfo], [M4FFragment], [M4FError]) -> Bool
) async throws -> (tracks: [TrackInfo], fragments: [M4FFragment], arrivals: [Int64]) {
    var request = HTTPClientRequest(url: url)
    if let authorization { request.headers.add(name: "Authorization", value: authorization) }
    let response = try await HTTPClient.shared.execute(
        request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + 1_000_000_000))
    guard response.status == .ok else { throw TestFailure("GET \(url) answered \(response.status.code)") }
    var reader = M4FReader()
    var tracks: [TrackInfo] = []
    var fragments: [M4FFragment] = []
    var errors: [M4FError] = []
    var arrivals: [Int64] = []
    let deadline = ContinuousClock.now + timeout
    for try await bytes in response.body {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        for event in reader.feed(bytes, arrivalMicros: now) {
            switch event {
            case .initialization(let found, _): tracks = found
            case .fragment(let fragment):
                fragments.append(fragment)
                arrivals.append(now)
            case .error(let error): errors.append(error)
            }
        }
        if enough(tracks, fragments, errors) || ContinuousClock.now > deadline { break }
    }
    #expect(errors.isEmpty, "M4F output had errors: \(errors)")
    return (tracks, fragments, arrivals)
}

/// A free UDP port on 127.0.0.1.
func freeUDPPort() async throws -> Int {
    let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}

/// A free TCP port on 127.0.0.1.
func freeTCPPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}

/// `count` distinct free TCP ports on 127.0.0.1, none of them in `besides` (the kernel may hand the same free
/// port out twice in a row).
func distinctFreeTCPPorts(_ count: Int, besides taken: Set<Int> = []) async throws -> [Int] {
    var ports: [Int] = []
    while ports.count < count {
        let port = try await freeTCPPort()
        if !taken.contains(port) && !ports.contains(port) { ports.append(port) }
    }
    return ports
}

/// The status of a GET, without reading the body (live bodies never end).
func httpStatus(_ url: String) async throws -> Int {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(15))
    return Int(response.status.code)
}

/// A request with a method and a JSON body; returns the body as text and the status.
func httpSend(_ method: HTTPMethod, _ url: String, json: String? = nil) async throws -> (body: String, status: Int) {
    var request = HTTPClientRequest(url: url)
    request.method = method
    if let json {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
    }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
    let body = try await response.body.collect(upTo: 16 << 20)
    return (String(buffer: body), Int(response.status.code))
}

/// A plain GET returning the body as text and the status.
func httpGet(_ url: String, headers: [(String, String)] = [], timeout: Int64 = 15) async throws -> (body: String, status: Int) {
    var request = HTTPClientRequest(url: url)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout))
    let body = try await response.body.collect(upTo: 16 << 20)
    return (String(buffer: body), Int(response.status.code))
}

/// Every integration test runs one at a time: they start real servers and ffmpeg on a 2-core machine.
@Suite(.serialized) enum IntegrationTests {}
