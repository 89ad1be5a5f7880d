import AsyncHTTPClient
import EstuaryConfig
import EstuaryNode
import EstuaryReplication
import EstuaryTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

extension IntegrationTests {
    /// `sources:` (Flussonic's `source host:port { dvr /storage 20d replicate; }`): a node takes every stream of
    /// another node, filtered, records it, and its replicator fills what it missed.
    @Suite(.serialized) struct SourceFollowerTests {
        static func names(_ node: Node) -> [String: String] {
            Dictionary(uniqueKeysWithValues: node.manager.all.map { ($0.name, $0.origin.rawValue) })
        }

        static let viewer = "Basic dmlld2VyOnNlY3JldA=="  // viewer:secret

        /// A request with the viewer's credentials; the status.
        static func send(_ method: HTTPMethod, _ url: String, _ json: String? = nil) async throws -> UInt {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Authorization", value: viewer)
            if let json { request.body = .bytes(ByteBuffer(string: json)) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            return response.status.code
        }

        @Test func aSourceBlockTakesFiltersReplicatesAndOutlivesItsSource() async throws {
            try await withTemporaryDirectory { directory in
                let key = "sources-key"
                let sourceRoot = directory.appendingPathComponent("source").path
                let sourcePort = try await freeTCPPort()
                let source = NodeControl(
                    streams: [recorded("a", root: sourceRoot), recorded("b", root: sourceRoot), stream("c", "fake://c")], port: sourcePort
                ) {
                    $0.clusterKey = key
                    // Reads of the source's API need view rights: the follower's list, signed with the cluster key, passes.
                    $0.access.viewAuth = UserPassword(user: "viewer", password: "secret")
                }
                try await source.start()
                do {
                    try await waitUntil("the source records 16 s of a", timeout: .seconds(40)) {
                        ((try? await archiveSegments(port: sourcePort, "a", key: key)) ?? []).reduce(0) { $0 + $1.durationMs } >= 16_000
                    }
                    let root = directory.appendingPathComponent("follower").path
                    let sources = [
                        SourceConfig(
                            url: "m4f://127.0.0.1:\(sourcePort)", dvr: DVRConfig(root: root, expiration: 3600, replicate: true),
                            except: ["c"])
                    ]
                    try await withNode(
                        streams: [], clusterKey: key, logLevel: .critical,
                        options: {
                            $0.sources = sources
                            $0.sourcePollInterval = .milliseconds(300)
                            // The replicator's signed list of this node's streams passes view protection too.
                            $0.access.viewAuth = UserPassword(user: "viewer", password: "secret")
                        }
                    ) { follower, port in
                        try await waitUntil("the follower runs a and b") { Self.names(follower) == ["a": "source", "b": "source"] }
                        let config = try #require(follower.manager.stream(named: "a")?.config)
                        #expect(config.inputs.map(\.url) == ["m4f://127.0.0.1:\(sourcePort)/a"])
                        #expect(config.dvr?.replicate == true && config.dvr?.root == root)

                        // The replicator backfills what the source recorded before the follower existed.
                        let replicator = ReplicationTests.replicator(target: port, clusterKey: key)
                        try await ReplicationTests.withReplicator(replicator) {
                            try await waitUntil("a's earlier archive is copied", timeout: .seconds(60)) {
                                let settled = Int64(Date().timeIntervalSince1970 * 1000) - 12_000
                                guard let left = try? await archiveSegments(port: sourcePort, "a", key: key),
                                    let right = try? await archiveSegments(port: port, "a", key: key)
                                else { return false }
                                let early = left.filter { $0.startMs + $0.durationMs <= settled }
                                return early.count >= 3 && early == right.filter { $0.startMs + $0.durationMs <= settled }
                            }
                        }

                        // A stream added on the source is taken; removed, it is stopped.
                        let put = try await Self.send(
                            .PUT, "http://127.0.0.1:\(sourcePort)/streamer/api/v3/streams/d", #"{"inputs": [{"url": "fake://d"}]}"#)
                        #expect(put == 200)
                        try await waitUntil("d is taken") { Self.names(follower)["d"] == "source" }
                        #expect(try await Self.send(.DELETE, "http://127.0.0.1:\(sourcePort)/streamer/api/v3/streams/d") == 204)
                        try await waitUntil("d is stopped") { Self.names(follower)["d"] == nil }

                        // The source goes down: its streams keep running here and the error is shown.
                        await source.stop()
                        try await waitUntil("the listing error is reported") {
                            follower.sourceFollower.status.first?.lastError != nil
                        }
                        let polls = ContinuousClock.now
                        try await waitUntil("several polls fail") { ContinuousClock.now - polls > .seconds(1) }
                        #expect(Self.names(follower) == ["a": "source", "b": "source"])
                        #expect(follower.sourceFollower.status.first?.streams == ["a", "b"])
                        let report = try await httpGet(
                            "http://127.0.0.1:\(port)/streamer/api/v3/config", headers: [("Authorization", Self.viewer)])
                        #expect(report.body.contains("\"sources\"") && report.body.contains("last_error"), "\(report.body)")
                    }
                } catch {
                    await source.stop()
                    throw error
                }
                await source.stop()
            }
        }

        @Test func aSourceRefusingTheClusterKeyIsReportedAndTakesNothing() async throws {
            try await withNode(
                streams: [stream("x", "fake://x")], clusterKey: "right", logLevel: .critical,
                options: { $0.access.viewAuth = UserPassword(user: "viewer", password: "secret") }
            ) { _, sourcePort in
                let sources = [SourceConfig(url: "m4f://127.0.0.1:\(sourcePort)")]
                try await withNode(
                    streams: [], clusterKey: "wrong", logLevel: .critical,
                    options: {
                        $0.sources = sources
                        $0.sourcePollInterval = .milliseconds(200)
                    }
                ) { follower, _ in
                    _ = sourcePort
                    try await waitUntil("the refusal is reported") {
                        follower.sourceFollower.status.first?.lastError?.contains("check cluster_key") == true
                    }
                    #expect(follower.manager.all.isEmpty)
                }
            }
        }
    }
}
