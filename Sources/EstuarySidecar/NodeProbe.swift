import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Asks this sidecar's node, every ``interval``, whether it is ready (`GET /readyz`) and what it runs
/// (`GET /streamer/api/v3/streams`: count, input bitrate, alive names), and hands the answer to
/// ``SidecarState``. A node that answers `/readyz` with an error is not ready at once; one that does not answer
/// (refused, or silent for 2 s) is not ready after two probes in a row, so one slow answer from a busy node
/// does not give its streams away.
public struct NodeProbe: Sendable {
    /// The node's base URL, for example `http://127.0.0.1:8080`.
    public let nodeURL: String
    /// The pause between probes.
    public let interval: Duration
    let httpClient: HTTPClient
    let logger: Logger

    /// Creates a probe.
    public init(nodeURL: String, httpClient: HTTPClient, interval: Duration = .milliseconds(500), logger: Logger) {
        self.nodeURL = nodeURL.hasSuffix("/") ? String(nodeURL.dropLast()) : nodeURL
        self.httpClient = httpClient
        self.interval = interval
        self.logger = logger
    }

    public func run(into state: SidecarState) async {
        var wasReady: Bool?
        var silent = 0
        while !Task.isCancelled {
            let answer = await probe()
            silent = answer == nil ? silent + 1 : 0
            guard let report = answer ?? (silent >= 2 ? .unreachable : nil) else {
                try? await Task.sleep(for: interval)
                continue
            }
            state.updateNodeReport(report)
            if wasReady != report.ready {
                logger.info(report.ready ? "node is ready" : "node is not ready", metadata: ["node": "\(nodeURL)"])
                wasReady = report.ready
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One probe; `nil` when the node did not answer.
    public func probe() async -> NodeReport? {
        do {
            let ready = try await httpClient.execute(HTTPClientRequest(url: nodeURL + "/readyz"), timeout: .seconds(2))
            _ = try await ready.body.collect(upTo: 1 << 16)
            guard ready.status == .ok else { return .unreachable }
            let list = try await httpClient.execute(HTTPClientRequest(url: nodeURL + "/streamer/api/v3/streams"), timeout: .seconds(2))
            let body = try await list.body.collect(upTo: 64 << 20)
            guard list.status == .ok else { return NodeReport(ready: true) }
            return Self.parse(Data(body.readableBytesView))
        } catch {
            return nil
        }
    }

    /// Reads `{"streams": [{"name": …, "stats": {"alive": …, "input_bitrate": …, "online_clients": …}}]}`.
    static func parse(_ data: Data) -> NodeReport {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let streams = object["streams"] as? [[String: Any]]
        else { return NodeReport(ready: true) }
        var alive = Set<String>()
        var bitrates: [String: Int64] = [:]
        var clients: [String: Int] = [:]
        var bitrate: Int64 = 0
        for stream in streams {
            let stats = stream["stats"] as? [String: Any] ?? [:]
            let streamBitrate = CentralDocument.integer(stats["input_bitrate"]) ?? 0
            bitrate += streamBitrate
            guard let name = stream["name"] as? String else { continue }
            if stats["alive"] as? Bool == true {
                alive.insert(name)
                bitrates[name] = streamBitrate
            }
            if let count = CentralDocument.integer(stats["online_clients"]), count > 0 { clients[name] = Int(count) }
        }
        return NodeReport(ready: true, streams: streams.count, bitrate: bitrate, alive: alive, bitrates: bitrates, clients: clients)
    }
}
