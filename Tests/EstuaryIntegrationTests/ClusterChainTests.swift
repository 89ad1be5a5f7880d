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
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

extension IntegrationTests {
    /// Two nodes chained over M4F with a cluster key; a wrong key is refused and reported.
    @Suite(.serialized) struct ClusterChainTests {
        @Test func secondNodeRelaysWithTheKeyAndAWrongKeyIsRefused() async throws {
            let key = "chain-secret"
            try await withNode(streams: [stream("src", "fake://src")], clusterKey: key) { _, portA in
                // Without credentials, node A refuses M4F.
                let (body, status) = try await httpGet("http://127.0.0.1:\(portA)/src/m4f")
                #expect(status == 401)
                #expect(body.contains("cluster_auth_failed"))
                #expect(!body.contains(key), "the key must never appear in an answer")

                try await withNode(streams: [stream("relay", "m4f://127.0.0.1:\(portA)/src")], clusterKey: key) { nodeB, portB in
                    try await waitUntil("relay alive on node B") { nodeB.manager.stream(named: "relay")?.isAlive == true }
                    let auth = ClusterAuth(key: key).authorizationHeader(method: "GET", path: "/relay/m4f")
                    let read = try await readM4F(url: "http://127.0.0.1:\(portB)/relay/m4f", authorization: auth) { _, fragments, _ in
                        fragments.count >= 10
                    }
                    #expect(read.tracks.map(\.codec) == [.h264, .aac])
                    let video = read.fragments.flatMap(\.frames).filter { $0.codec.isVideo }
                    #expect(video.first?.isKeyframe == true)
                    #expect(zip(video, video.dropFirst()).allSatisfy { $0.dts < $1.dts }, "relayed video is in decode order")
                }

                try await withNode(streams: [stream("relay", "m4f://127.0.0.1:\(portA)/src")], clusterKey: "wrong-key") { nodeC, portC in
                    try await waitUntil("node C reports the refusal") {
                        nodeC.manager.stream(named: "relay")?.inputStatus.snapshot.lastErrorReason == "unauthorized"
                    }
                    let relay = try #require(nodeC.manager.stream(named: "relay"))
                    #expect(!relay.isAlive)
                    #expect(relay.pipeline.statistics.framesIn == 0)
                    let (api, _) = try await httpGet("http://127.0.0.1:\(portC)/streamer/api/v3/streams/relay")
                    #expect(api.contains("\"last_error_reason\":\"unauthorized\""))
                    #expect(!api.contains("wrong-key"))
                }
            }
        }

        /// A node pulls every stream it is given from one upstream node at once: live inputs hold their
        /// connections, and the HTTP client's default pool (8 per host) once left all but 8 of them waiting.
        @Test func aNodePullsMoreStreamsFromOneUpstreamThanAConnectionPoolsDefault() async throws {
            let names = (0..<12).map { "s\($0)" }
            try await withNode(streams: names.map { stream($0, "fake://\($0)") }) { _, portA in
                let relays = names.map { stream($0, "m4f://127.0.0.1:\(portA)/\($0)") }
                try await withNode(streams: relays) { nodeB, _ in
                    try await waitUntil("all 12 relays alive on node B") {
                        names.allSatisfy { nodeB.manager.stream(named: $0)?.isAlive == true }
                    }
                    let relayed = names.compactMap { nodeB.manager.stream(named: $0)?.pipeline.statistics.framesIn }
                    #expect(relayed.count == 12 && relayed.allSatisfy { $0 > 0 })
                }
            }
        }

        /// An input that names the node itself (as when every pod of a StatefulSet lists all pods as fallbacks) is
        /// refused with 508 and never feeds the stream its own output; the next input is used.
        @Test func anInputNamingTheNodeItselfIsRefusedAndTheNextOneIsUsed() async throws {
            let port = try await freeTCPPort()
            let streams = [stream("loop", "m4f://127.0.0.1:\(port)/loop", "fake://loop")]
            try await withNode(streams: streams, clusterKey: "k", options: { $0.httpPort = port }) { node, _ in
                let loop = try #require(node.manager.stream(named: "loop"))
                let reported = Mutex("")
                try await waitUntil("the loop is reported") {
                    let snapshot = loop.inputStatus.snapshot
                    guard snapshot.lastErrorReason == "loop_detected" else { return false }
                    reported.withLock { $0 = snapshot.lastError ?? "" }
                    return true
                }
                try await waitUntil("the fake input runs") { loop.isAlive && loop.inputStatus.snapshot.activeInput == 1 }
                let error = reported.withLock { $0 }
                #expect(error.contains("is this node itself"), "\(error)")
                // Another node reading the same URL is served.
                try await withNode(streams: [stream("relay", "m4f://127.0.0.1:\(port)/loop")], clusterKey: "k") { other, _ in
                    try await waitUntil("another node relays it") { other.manager.stream(named: "relay")?.isAlive == true }
                }
            }
        }

        @Test func staleSignatureIsRefused() async throws {
            let key = "k"
            try await withNode(streams: [stream("src", "fake://src")], clusterKey: key) { _, port in
                let stale = ClusterAuth(key: key).authorizationHeader(
                    method: "GET", path: "/src/m4f", now: Int64(Date().timeIntervalSince1970) - 121)
                let (_, status) = try await httpGet("http://127.0.0.1:\(port)/src/m4f", headers: [("Authorization", stale)])
                #expect(status == 401)
            }
        }
    }
}
