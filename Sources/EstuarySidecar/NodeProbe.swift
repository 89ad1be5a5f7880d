import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Asks this sidecar's node, every ``interval``, whether it is ready (`GET /readyz`) and what it runs
/// (`GET /streamer/api/v3/streams`: count, input bitrate, alive names), and hands the answer to
/// ``SidecarState``.
///
/// Not ready means the sidecar releases the node's streams to the others, so the probe tells a node that is gone
/// from one that is only busy (``ProbeVerdict``):
/// - a node that answers `/readyz` with an error is not ready at once;
/// - one that refuses the connection (nothing listens: the process died or restarts) is not ready after two
///   refusals in a row (the HTTP client retries a refused connection until the request's deadline, so that is
///   about two ``timeout``s);
/// - one that accepts but does not answer within ``timeout`` (busy or hung) is not ready only once it stayed
///   unanswered for ``silenceLimit``: a node that a burst of load slows down keeps its streams instead of handing
///   them to nodes as loaded as itself, which would slow those down in turn;
/// - a node that answers `/readyz` but not the stream list in time stays ready with the load it last reported.
public struct NodeProbe: Sendable {
    /// What one probe found.
    public enum Outcome: Sendable, Equatable {
        /// The node answered both requests (`ready` false when `/readyz` answered an error).
        case answered(NodeReport)
        /// `/readyz` answered 200 but the stream list did not come.
        case readyWithoutLoad
        /// The connection was refused or broken: nothing listens.
        case refused
        /// No answer within the timeout.
        case silent
    }

    /// The node's base URL, for example `http://127.0.0.1:8080`.
    public let nodeURL: String
    /// The pause between probes.
    public let interval: Duration
    /// How long one request may take before it counts as unanswered.
    public let timeout: Duration
    /// How long a node may leave every probe unanswered before it counts as not ready.
    public let silenceLimit: Duration
    let httpClient: HTTPClient
    let logger: Logger

    /// Creates a probe.
    public init(
        nodeURL: String, httpClient: HTTPClient, interval: Duration = .milliseconds(500), timeout: Duration = .seconds(2),
        silenceLimit: Duration = .seconds(10), logger: Logger
    ) {
        self.nodeURL = nodeURL.hasSuffix("/") ? String(nodeURL.dropLast()) : nodeURL
        self.httpClient = httpClient
        self.interval = interval
        self.timeout = timeout
        self.silenceLimit = silenceLimit
        self.logger = logger
    }

    /// Probes until cancelled, handing each verdict to `state`.
    public func run(into state: SidecarState) async {
        var verdict = ProbeVerdict(silenceLimit: silenceLimit)
        var wasReady: Bool?
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let outcome = await probe()
            if let report = verdict.next(outcome, startedAt: started, now: .now) {
                state.updateNodeReport(report)
                if wasReady != report.ready {
                    logger.info(
                        report.ready ? "node is ready" : "node is not ready",
                        metadata: ["node": "\(nodeURL)", "probe": "\(outcome.description)"])
                    wasReady = report.ready
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One probe.
    public func probe() async -> Outcome {
        let limit = TimeAmount(timeout)
        do {
            let ready = try await httpClient.execute(HTTPClientRequest(url: nodeURL + "/readyz"), timeout: limit)
            _ = try await ready.body.collect(upTo: 1 << 16)
            guard ready.status == .ok else { return .answered(.unreachable) }
        } catch {
            return Self.isTimeout(error) ? .silent : .refused
        }
        do {
            let list = try await httpClient.execute(HTTPClientRequest(url: nodeURL + "/streamer/api/v3/streams"), timeout: limit)
            let body = try await list.body.collect(upTo: 64 << 20)
            guard list.status == .ok else { return .readyWithoutLoad }
            return .answered(Self.parse(Data(body.readableBytesView)))
        } catch {
            return .readyWithoutLoad
        }
    }

    /// Whether a request failed for want of an answer in time (rather than a refused or broken connection).
    static func isTimeout(_ error: any Error) -> Bool {
        guard let error = error as? HTTPClientError else { return false }
        return [.deadlineExceeded, .connectTimeout, .readTimeout, .getConnectionFromPoolTimeout].contains(error)
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
