import EstuaryClusterAuth
import EstuaryTestSupport
import Foundation
import Testing

extension IntegrationTests {
    /// The whole-cluster test (issue 8): the dev overlay is rendered with kubectl and its pods run on this host as the
    /// manifests say (commands, env, ports, mounts), one network namespace per pod, so a wrong variable name, port or
    /// path in the manifests fails here.
    @Suite(.serialized) struct ClusterManifestTests {
        static let required = ProcessInfo.processInfo.environment["ESTUARY_REQUIRE_CLUSTER"] == "1"

        /// `dvr/segments` of a pod's node, signed with the cluster key.
        static func segments(_ address: String, _ name: String, key: String) async throws -> [SegmentReport] {
            struct Body: Decodable { var segments: [SegmentReport] }
            let path = "/streamer/api/v3/streams/\(name)/dvr/segments"
            let response = try await httpGet(
                "http://\(address):8080\(path)",
                headers: [("Authorization", ClusterAuth(key: key).authorizationHeader(method: "GET", path: path))])
            guard response.status == 200 else {
                throw TestFailure("segments of \(name) on \(address): \(response.status) \(response.body)")
            }
            return try JSONDecoder().decode(Body.self, from: Data(response.body.utf8)).segments
        }

        /// Settled segments (ended more than 15 s ago) from `fromMs` on.
        static func settled(_ segments: [SegmentReport], fromMs: Int64) -> [SegmentReport] {
            let settled = Int64(Date().timeIntervalSince1970 * 1000) - 15_000
            return segments.filter { $0.startMs >= fromMs && $0.startMs + $0.durationMs <= settled }
        }

        @Test(.enabled(if: ManifestCluster.available || required))
        func theDevOverlayRunsAsRenderedRecordsReplicatesPlaysBackAndSurvivesLosingAPod() async throws {
            let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let manifests = try RenderedManifests.render(overlay: repository.appendingPathComponent("k8s/overlays/dev").path)
            let key = try #require(manifests.secrets.values.compactMap { $0["cluster-key"] }.first, "no cluster-key in the Secret")
            #expect(Set(manifests.workloads.map(\.name)) == ["ingest", "dvr"])
            try await withTemporaryDirectory { directory in
                // The dvr StatefulSet scaled to two pods, as `kubectl scale statefulset dvr --replicas 2` would.
                let cluster = try ManifestCluster(manifests, directory: directory, replicas: ["dvr": 2])
                try cluster.createNetwork()
                defer { cluster.stop() }
                do {
                    let ingest = try cluster.pod("ingest-0")
                    let dvr = try cluster.pod("dvr-0")
                    let secondary = try cluster.pod("dvr-1")
                    try cluster.start(ingest)
                    try cluster.start(dvr)
                    try await waitUntil("the first pods' readiness probes answer 200", timeout: .seconds(60)) {
                        cluster.isReady(ingest) && cluster.isReady(dvr)
                    }

                    // Live from the ingest pod, on the Service's port.
                    try await waitUntil("the ingest pod plays fake1 live") {
                        let playlist = try? await httpGet("http://\(ingest.address):8080/fake1/index.m3u8")
                        return playlist?.status == 200 && playlist?.body.contains("#EXTINF") == true
                    }
                    // dvr-0 records it through the ingest Service name (m4f://ingest:8080/fake1 in central.yaml).
                    try await waitUntil("dvr-0 records fake1", timeout: .seconds(60)) {
                        ((try? await Self.segments(dvr.address, "fake1", key: key)) ?? []).count >= 4
                    }
                    let recorded = try await Self.segments(dvr.address, "fake1", key: key)
                    let from = recorded[0].startMs / 1000 + 1
                    let mp4 = try await httpGet("http://\(dvr.address):8080/fake1/archive-\(from)-8.mp4")
                    #expect(mp4.status == 200 && mp4.body.utf8.count > 10_000, "archive mp4: \(mp4.status), \(mp4.body.utf8.count) bytes")
                    #expect(Array(mp4.body.utf8.dropFirst(4).prefix(4)) == Array("ftyp".utf8), "the export is not an MP4")
                    let playlist = try await httpGet("http://\(dvr.address):8080/fake1/archive-\(from)-8.m3u8")
                    #expect(playlist.status == 200 && playlist.body.contains("#EXTINF"), "\(playlist.body)")

                    // dvr-1 starts late: it records live and its replicator backfills what dvr-0 recorded before it existed.
                    try cluster.start(secondary)
                    try await waitUntil("dvr-1 is ready", timeout: .seconds(60)) { cluster.isReady(secondary) }
                    try await waitUntil("dvr-1 holds dvr-0's earlier archive", timeout: .seconds(90)) {
                        guard let left = try? await Self.segments(dvr.address, "fake1", key: key),
                            let right = try? await Self.segments(secondary.address, "fake1", key: key)
                        else { return false }
                        return Set(recorded).isSubset(of: Set(right)) && Self.settled(right, fromMs: 0) == Self.settled(left, fromMs: 0)
                    }

                    // dvr-0 dies (SIGKILL of every container) and comes back on its volume: nothing completed is lost, and
                    // its replicator fills the outage from dvr-1.
                    cluster.kill(dvr)
                    try await Task.sleep(for: .seconds(6))
                    try cluster.start(dvr)
                    try await waitUntil("dvr-0 is ready again", timeout: .seconds(60)) { cluster.isReady(dvr) }
                    // The stream comes back on the node's first config cycle that reaches its sidecar.
                    try await waitUntil("dvr-0 runs fake1 again", timeout: .seconds(30)) {
                        (try? await Self.segments(dvr.address, "fake1", key: key)) != nil
                    }
                    let afterKill = try await Self.segments(dvr.address, "fake1", key: key)
                    #expect(Set(recorded).isSubset(of: Set(afterKill)), "segments were lost with the dvr pod")
                    try await waitUntil("both dvr pods hold the same archive again", timeout: .seconds(90)) {
                        guard let left = try? await Self.segments(dvr.address, "fake1", key: key),
                            let right = try? await Self.segments(secondary.address, "fake1", key: key)
                        else { return false }
                        let settledLeft = Self.settled(left, fromMs: 0)
                        return settledLeft.count > afterKill.count && settledLeft == Self.settled(right, fromMs: 0)
                    }

                    // The ingest pod dies and comes back: the dvr pods' inputs reconnect and the archive grows again.
                    cluster.kill(ingest)
                    let killedAt = Int64(Date().timeIntervalSince1970 * 1000)
                    try cluster.start(ingest)
                    try await waitUntil("the ingest pod is ready again", timeout: .seconds(60)) { cluster.isReady(ingest) }
                    try await waitUntil("dvr-0 records from the new ingest pod", timeout: .seconds(60)) {
                        ((try? await Self.segments(dvr.address, "fake1", key: key)) ?? []).contains { $0.startMs > killedAt }
                    }
                } catch {
                    print(cluster.logTails())
                    throw error
                }
            }
        }
    }
}
