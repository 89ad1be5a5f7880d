import AsyncHTTPClient
import EstuaryClusterAuth
import EstuaryConfig
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Runs the streams of the YAML's `sources:` (Flussonic's `source host:port { dvr … replicate; }`): every
/// ``interval`` it lists each source node's streams (`GET /streamer/api/v3/streams`, signed with the cluster
/// key) and makes the node's `source` streams exactly those names, filtered by `only`/`except`, each with one
/// input `m4f://host:port/NAME` and the source's `dvr` block.
///
/// Guarantees: a source that cannot be listed (down, 401, a malformed answer) keeps the streams it had, so
/// an outage of the source node never stops recording here; a name the YAML file or the API defines is left
/// to them (reported once); a listed name that is not a valid stream name is skipped and reported once; at
/// most ``maximumStreamsPerSource`` names are taken from one source.
public final class SourceFollower: Sendable {
    /// The most streams taken from one source.
    public static let maximumStreamsPerSource = 10_000

    public let sources: [SourceConfig]
    public let interval: Duration
    let manager: StreamManager
    let client: HTTPClient
    let clusterAuth: ClusterAuth?
    let logger: Logger
    private let state = Mutex<(taken: [Int: [String]], errors: [Int: String], reported: Set<String>)>(([:], [:], []))

    /// One source's state, for the node's API.
    public struct SourceStatus: Sendable, Encodable, Equatable {
        public var url: String
        public var streams: [String]
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case url, streams
            case lastError = "last_error"
        }
    }

    public init(
        sources: [SourceConfig], manager: StreamManager, client: HTTPClient, clusterKey: String?, logger: Logger,
        interval: Duration = .seconds(3)
    ) {
        self.sources = sources
        self.manager = manager
        self.client = client
        self.clusterAuth = clusterKey.map { ClusterAuth(key: $0) }
        self.logger = logger
        self.interval = interval
    }

    /// Each source's URL, the names taken from it and its last listing error.
    public var status: [SourceStatus] {
        state.withLock { state in
            sources.enumerated().map { index, source in
                SourceStatus(
                    url: SecretMasking.mask(url: source.url), streams: state.taken[index] ?? [], lastError: state.errors[index])
            }
        }
    }

    /// Polls every source until cancelled.
    public func run() async {
        guard !sources.isEmpty else { return }
        while !Task.isCancelled {
            await poll()
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
        }
    }

    /// One pass: lists every source, then applies the union of what they offer.
    public func poll() async {
        await withTaskGroup(of: Void.self) { group in
            for (index, source) in sources.enumerated() {
                group.addTask { await self.list(index, source) }
            }
        }
        let taken = state.withLock { $0.taken }
        var configs: [StreamConfig] = []
        var seen = Set<String>()
        for (index, source) in sources.enumerated() {
            for name in taken[index] ?? [] where seen.insert(name).inserted {
                if let running = manager.stream(named: name), running.origin != .source {
                    report("\(name) defined elsewhere") {
                        logger.warning(
                            "a source's stream is also defined by the node's \(running.origin.rawValue) configuration; that one runs",
                            metadata: ["stream": .string(name), "source": .string(SecretMasking.mask(url: source.url))])
                    }
                    continue
                }
                configs.append(source.streamConfig(name: name))
            }
        }
        manager.apply(configs, origin: .source)
    }

    /// Lists one source's streams into `taken`; on failure keeps what it had and records the error.
    private func list(_ index: Int, _ source: SourceConfig) async {
        let masked = SecretMasking.mask(url: source.url)
        do {
            let names = try await streamNames(of: source)
            var accepted: [String] = []
            for name in names where source.includes(name) {
                guard StreamConfig.isValidName(name) else {
                    report("\(index) invalid \(name)") {
                        logger.warning(
                            "a source lists an invalid stream name; skipped", metadata: ["source": .string(masked), "name": .string(name)])
                    }
                    continue
                }
                do {
                    try source.streamConfig(name: name).validate()
                } catch {
                    report("\(index) invalid \(name)") {
                        logger.warning(
                            "a source's stream is invalid here; skipped",
                            metadata: ["source": .string(masked), "error": .string("\(error)")])
                    }
                    continue
                }
                accepted.append(name)
                if accepted.count == Self.maximumStreamsPerSource {
                    report("\(index) truncated") {
                        logger.warning(
                            "a source lists too many streams; only the first \(Self.maximumStreamsPerSource) are taken",
                            metadata: ["source": .string(masked)])
                    }
                    break
                }
            }
            let recovered = state.withLock { state -> Bool in
                state.taken[index] = accepted.sorted()
                return state.errors.removeValue(forKey: index) != nil
            }
            if recovered { logger.info("source reachable again", metadata: ["source": .string(masked)]) }
        } catch {
            let first = state.withLock { state -> Bool in
                defer { state.errors[index] = error.description }
                return state.errors[index] != error.description
            }
            if first {
                logger.error(
                    "cannot list a source's streams; its streams keep running",
                    metadata: ["source": .string(masked), "error": .string(error.description)])
            }
        }
    }

    /// Logs `body` once per `key`.
    private func report(_ key: String, _ body: () -> Void) {
        if state.withLock({ $0.reported.insert(key).inserted }) { body() }
    }

    /// Why a source's stream list could not be used; names the source (masked) and what went wrong.
    public struct ListingError: Error, CustomStringConvertible, Equatable {
        public var source: String
        public var reason: String
        public var description: String { "\(source): \(reason)" }
    }

    /// `GET http(s)://host:port/streamer/api/v3/streams` → the names listed.
    func streamNames(of source: SourceConfig) async throws(ListingError) -> [String] {
        let masked = SecretMasking.mask(url: source.url)
        guard let base = source.apiBase else { throw ListingError(source: masked, reason: "no host in the URL") }
        let path = "/streamer/api/v3/streams"
        var request = HTTPClientRequest(url: base + path)
        if let clusterAuth { request.headers.add(name: "Authorization", value: clusterAuth.authorizationHeader(method: "GET", path: path)) }
        struct Listing: Decodable {
            struct Entry: Decodable { var name: String }
            var streams: [Entry]
        }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(10))
            body = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw ListingError(source: masked, reason: "\(error)")
        }
        guard response.status == .ok else {
            throw ListingError(
                source: masked,
                reason: "HTTP \(response.status.code) to the stream list" + (response.status == .unauthorized ? " (check cluster_key)" : "")
            )
        }
        do {
            return try JSONDecoder().decode(Listing.self, from: Data(body.readableBytesView)).streams.map(\.name)
        } catch {
            throw ListingError(source: masked, reason: "the stream list is not {\"streams\": [{\"name\": …}]}")
        }
    }
}
