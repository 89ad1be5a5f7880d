import AsyncHTTPClient
import EstuaryConfig
import EstuaryNode
import EstuarySidecar
import EstuaryTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// The names of the streams a node runs, and which of them are alive, from its API.
func nodeStreams(port: Int, timeout: Int64 = 15) async throws -> (names: Set<String>, alive: Set<String>) {
    // A client of its own: the shared pool may hold a connection to a node killed and restarted on this port,
    // and would wait on it.
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    let answer: (body: String, status: Int)
    do {
        let response = try await client.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)/streamer/api/v3/streams"), timeout: .seconds(timeout))
        answer = (String(buffer: try await response.body.collect(upTo: 16 << 20)), Int(response.status.code))
        try await client.shutdown()
    } catch {
        try? await client.shutdown()
        throw error
    }
    let (body, status) = answer
    guard status == 200, let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
        let list = object["streams"] as? [[String: Any]]
    else { throw TestFailure("GET streams on :\(port) answered \(status)") }
    var names = Set<String>()
    var alive = Set<String>()
    for stream in list {
        guard let name = stream["name"] as? String else { continue }
        names.insert(name)
        if (stream["stats"] as? [String: Any])?["alive"] as? Bool == true { alive.insert(name) }
    }
    return (names, alive)
}

/// Each stream a node runs, with the URLs of its inputs (`GET /streamer/api/v3/streams`).
func nodeStreamInputs(port: Int) async throws -> [String: [String]] {
    let response = try await HTTPClient.shared.execute(
        HTTPClientRequest(url: "http://127.0.0.1:\(port)/streamer/api/v3/streams"), timeout: .seconds(2))
    let body = try await response.body.collect(upTo: 16 << 20)
    guard response.status == .ok, let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
        let list = object["streams"] as? [[String: Any]]
    else { throw TestFailure("GET streams on :\(port) answered \(response.status.code)") }
    var result: [String: [String]] = [:]
    for stream in list {
        guard let name = stream["name"] as? String else { continue }
        result[name] = (stream["inputs"] as? [[String: Any]] ?? []).compactMap { $0["url"] as? String }
    }
    return result
}

/// Runs a config-sidecar in this process for the duration of `body`.
func withSidecar<T: Sendable>(
    _ settings: SidecarSettings, logLevel: Logger.Level = .warning, _ body: (Sidecar, Int) async throws -> T
) async throws -> T {
    var logger = Logger(label: "test.sidecar")
    logger.logLevel = logLevel
    let sidecar = try Sidecar(settings: settings, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await sidecar.run() }
        let port = await sidecar.waitUntilListening()
        do {
            let result = try await body(sidecar, port)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

extension IntegrationTests {
    /// The config-sidecar (issue 5) with a real node: the file upstream in process, PostgreSQL from Debian.
    @Suite(.serialized) struct SidecarTests {
        @Test func editingTheCentralYAMLStartsAndStopsStreamsOnTheNode() async throws {
            try await withTemporaryDirectory { directory in
                let yaml = directory.appendingPathComponent("central.yaml")
                func write(_ text: String) throws {
                    // A ConfigMap update replaces the file; write-and-rename does the same.
                    let temporary = directory.appendingPathComponent("central.tmp")
                    try text.write(to: temporary, atomically: false, encoding: .utf8)
                    guard rename(temporary.path, yaml.path) == 0 else { throw TestFailure("rename failed: \(errno)") }
                }
                try write(
                    """
                    streams:
                      - {name: cam1, inputs: [{url: "fake://cam1"}], cluster_ingest: {capture_at: ingest-0}}
                      - {name: cam2, inputs: [{url: "fake://cam2"}], cluster_ingest: {capture_at: ingest-1}}
                      - {name: cam1, role: dvr, inputs: [{url: "m4f://@ingest/cam1"}]}
                    """)
                let settings = SidecarSettings(
                    listenHost: "127.0.0.1", listenPort: 0, upstream: "file://\(yaml.path)",
                    replicaPath: directory.appendingPathComponent("replica.sqlite").path, identity: SidecarIdentity(hostname: "ingest-0"),
                    nodeURL: "")
                try await withSidecar(settings) { sidecar, sidecarPort in
                    try await withNode(
                        streams: [],
                        options: {
                            $0.hostname = "ingest-0"
                            $0.configExternalOverride = "http://127.0.0.1:\(sidecarPort)/streams"
                        }
                    ) { _, port in
                        try await waitUntil("the node runs cam1 only") { try await nodeStreams(port: port).names == ["cam1"] }
                        try write(
                            """
                            streams:
                              - {name: cam3, inputs: [{url: "fake://cam3"}]}
                              - {name: cam2, inputs: [{url: "fake://cam2"}], cluster_ingest: {capture_at: ingest-1}}
                            """)
                        try await waitUntil("the edit reaches the node: cam3 starts, cam1 stops") {
                            try await nodeStreams(port: port).names == ["cam3"]
                        }
                        // A bad edit keeps the last good configuration and says what is wrong.
                        try write("streams:\n  - {name: cam3, inputs: [{url: \"ftp://nowhere\"}]}\n")
                        try await waitUntil("the sidecar reports the bad edit") {
                            let status = try await httpGet("http://127.0.0.1:\(sidecarPort)/status").body
                            return status.contains("invalid_configuration") && status.contains("inputs[0].url")
                        }
                        let served = sidecar.state.requestsServed
                        try await waitUntil("the node asks twice more") { sidecar.state.requestsServed >= served + 2 }
                        #expect(try await nodeStreams(port: port).names == ["cam3"], "a bad edit stops nothing")
                        // The admin API is read-only for a file upstream and says so.
                        let put = try await httpSend(
                            .PUT, "http://127.0.0.1:\(sidecarPort)/admin/streams/x", json: #"{"inputs": [{"url": "fake://x"}]}"#)
                        #expect(put.status == 409 && put.body.contains("read_only"))
                    }
                }
            }
        }

        @Test(.enabled(if: PostgresServer.enabled), .timeLimit(.minutes(2)))
        func thePostgresUpstreamSpeaksTLSAndVerifiesTheServer() async throws {
            let server = try PostgresServer.start(port: try await freeTCPPort())
            defer { server.destroy() }
            try await withTemporaryDirectory { directory in
                let trusted = try TestCertificates.make("pg", in: directory)
                let stranger = try TestCertificates.make("stranger", in: directory)
                try server.requireTLS(certificate: trusted.certificate, key: trusted.key)
                func settings(_ query: String) -> SidecarSettings {
                    SidecarSettings(
                        listenHost: "127.0.0.1", listenPort: 0, upstream: "\(server.url)?\(query)", replicaPath: nil,
                        identity: SidecarIdentity(hostname: "ingest-0"), nodeURL: "")
                }
                // verify-full against the server's CA: the schema is made and a stream written in SQL is served.
                try await withSidecar(settings("sslmode=verify-full&sslrootcert=\(trusted.ca)")) { sidecar, port in
                    try await waitUntil("the sidecar made the schema over TLS") {
                        (try? server.psql("SELECT count(*) FROM estuary_schema_migrations")) == "\(PostgresSchema.latestVersion)"
                    }
                    try server.psql(
                        #"INSERT INTO estuary_streams(name, config) VALUES ('tls1', '{"name": "tls1", "inputs": [{"url": "fake://tls1"}]}')"#
                    )
                    try await waitUntil("the stream reaches the sidecar") {
                        try await httpGet("http://127.0.0.1:\(port)/streams").body.contains("fake://tls1")
                    }
                    let plainConnections = try server.psql(
                        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = 'estuary' AND NOT ssl")
                    #expect(plainConnections == "0")
                }
                // A server whose certificate this CA did not sign: refused, and /status says why.
                try await withSidecar(settings("sslmode=verify-full&sslrootcert=\(stranger.ca)")) { sidecar, port in
                    try await waitUntil("the sidecar reports the untrusted server") {
                        let status = try await httpGet("http://127.0.0.1:\(port)/status").body
                        return status.contains("certificate is not trusted")
                    }
                    #expect(sidecar.state.config == nil)
                }
                // sslmode=disable against a server that refuses plain connections: refused, with PostgreSQL's reason.
                try await withSidecar(settings("sslmode=disable")) { sidecar, port in
                    try await waitUntil("the sidecar reports the refusal") {
                        let status = try await httpGet("http://127.0.0.1:\(port)/status").body
                        return status.contains("pg_hba.conf")
                    }
                    #expect(sidecar.state.config == nil)
                }
            }
        }

        /// Runs `body` with a PostgreSQL upstream (reconciling every 300 ms) replicating a new database into a
        /// state, once its first read arrived.
        func withPostgresUpstream(
            _ body: (PostgresServer, PostgresLink, PostgresUpstream, SidecarState) async throws -> Void
        ) async throws {
            let server = try PostgresServer.start(port: try await freeTCPPort())
            defer { server.destroy() }
            var logger = Logger(label: "test.upstream")
            logger.logLevel = .critical
            let link = PostgresLink(settings: try PostgresURL(server.url), logger: logger)
            let upstream = PostgresUpstream(link: link, reconcileInterval: .milliseconds(300), logger: logger)
            let state = SidecarState(identity: SidecarIdentity(hostname: "ingest-0"), replica: nil, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await upstream.run(into: state) }
                try await waitUntil("the upstream replicates") { state.config != nil }
                try await body(server, link, upstream, state)
                group.cancelAll()
            }
            await link.close()
        }

        @Test(.enabled(if: PostgresServer.enabled), .timeLimit(.minutes(2)))
        func aRowHardDeletedIsCaughtByTheReconcileDigest() async throws {
            try await withPostgresUpstream { server, link, upstream, state in
                let names = { Set(state.config?.streams.keys.map(\.name) ?? []) }
                try server.psql(
                    """
                    INSERT INTO estuary_streams(name, config) VALUES
                      ('keep', '{"name": "keep", "inputs": [{"url": "fake://keep"}]}'),
                      ('gone', '{"name": "gone", "inputs": [{"url": "fake://gone"}]}')
                    """)
                try await waitUntil("both streams replicate") { names() == ["keep", "gone"] }
                // The digest a reconcile compares with what was read: two rows and the sum of their versions.
                let digest = try await upstream.digest(try await link.connection())
                #expect(digest.hasPrefix("2/"), "\(digest)")
                // A hard delete (no tombstone, so no incremental read sees it): the next reconcile's digest differs.
                try server.psql("DELETE FROM estuary_streams WHERE name = 'gone'")
                try await waitUntil("the reconcile drops the deleted row", timeout: .seconds(5)) { names() == ["keep"] }
                #expect(try await upstream.digest(try await link.connection()) != digest)
            }
        }

        /// The first read keeps rows as text, checked when served: a row that fails is kept out of what the node
        /// runs. A row changed later is checked when read: a bad edit keeps the running version (its inputs and its
        /// placement) on every sidecar, and a good one replaces it.
        @Test(.enabled(if: PostgresServer.enabled), .timeLimit(.minutes(2)))
        func aBadEditOfAStreamRowKeepsTheRunningVersion() async throws {
            try await withPostgresUpstream { server, _, _, state in
                let cam = StreamKey(role: "ingest", name: "cam")
                let inputs = { (state.config?.streams[cam]).flatMap { try? $0.decodedConfig().inputs.map(\.url) } }
                try server.psql(
                    #"INSERT INTO estuary_streams(name, config) VALUES ('cam', '{"name": "cam", "inputs": [{"url": "fake://good"}]}')"#)
                try await waitUntil("the stream replicates") { inputs() == ["fake://good"] }
                // A bad edit (an unsupported scheme) that also moves the stream: neither applies.
                try server.psql(
                    #"""
                    UPDATE estuary_streams SET config = '{"name": "cam", "inputs": [{"url": "ftp://bad"}],
                        "cluster_ingest": {"capture_at": "ingest-1"}}' WHERE name = 'cam';
                    INSERT INTO estuary_streams(name, config) VALUES ('marker', '{"name": "marker", "inputs": [{"url": "fake://m"}]}');
                    """#)
                try await waitUntil("the edit was read") { state.config?.streams[StreamKey(role: "ingest", name: "marker")] != nil }
                #expect(inputs() == ["fake://good"])
                #expect(state.config?.streams[cam]?.captureAt == nil)
                try server.psql(
                    #"UPDATE estuary_streams SET config = '{"name": "cam", "inputs": [{"url": "fake://better"}]}' WHERE name = 'cam'"#)
                try await waitUntil("a good edit replaces it") { inputs() == ["fake://better"] }
            }
        }

        @Test func aDVRNodeKeepsWhatTheSidecarsEpisodesCover() async throws {
            try await withTemporaryDirectory { directory in
                let root = directory.appendingPathComponent("storage").path
                let startMs = Int64(Date().timeIntervalSince1970 * 1000)
                let yaml = directory.appendingPathComponent("central.yaml")
                // Archive older than 6 s expires, except the first 6 s, which an episode in the central file covers.
                try """
                streams:
                  - {name: kept, role: dvr, inputs: [{url: "fake://kept"}], dvr: {root: "\(root)", expiration: 6}}
                episodes:
                  - {id: e1, stream: kept, opened_at: \(startMs), closed_at: \(startMs + 6000)}
                """.write(to: yaml, atomically: true, encoding: .utf8)
                let settings = SidecarSettings(
                    listenHost: "127.0.0.1", listenPort: 0, upstream: "file://\(yaml.path)",
                    identity: SidecarIdentity(hostname: "dvr-0", role: "dvr"), nodeURL: "")
                try await withSidecar(settings) { sidecar, sidecarPort in
                    try await withNode(
                        streams: [], logLevel: .error,
                        options: {
                            $0.hostname = "dvr-0"
                            $0.role = "dvr"
                            $0.dvrCleanupInterval = .milliseconds(500)
                            $0.configExternalOverride = "http://127.0.0.1:\(sidecarPort)/streams"
                        }
                    ) { _, port in
                        try await waitUntil("20 s of archive", timeout: .seconds(60)) {
                            let kept = (try? await archiveSegments(port: port, "kept")) ?? []
                            return (kept.last.map { $0.startMs + $0.durationMs - startMs } ?? 0) >= 20_000
                        }
                        let now = Int64(Date().timeIntervalSince1970 * 1000)
                        let kept = try await archiveSegments(port: port, "kept")
                        #expect(kept.first.map { $0.startMs < startMs + 6000 } == true, "the episode's segments were deleted")
                        #expect(!kept.contains { $0.startMs > startMs + 6_000 && $0.startMs + $0.durationMs < now - 8_000 })
                        #expect(sidecar.state.requestsServed > 0)
                    }
                }
            }
        }

        @Test func anHTTPBackendIsReplicatedAndOutlivedWhenItDies() async throws {
            try await withBackend { backend, control in
                backend.list(["a", "b"]) { "{\"name\": \"\($0)\", \"inputs\": [{\"url\": \"fake://\($0)\"}]}" }
                backend.script.withLock { $0.pageSize = 1 }
                let settings = SidecarSettings(
                    listenHost: "127.0.0.1", listenPort: 0, upstream: control.url, identity: SidecarIdentity(hostname: "ingest-7"),
                    nodeURL: "")
                try await withSidecar(settings) { sidecar, port in
                    try await waitUntil("both pages are replicated") { sidecar.state.config?.streams.count == 2 }
                    #expect(backend.requests.contains { $0.parameters["host"] == "ingest-7" && $0.parameters["cursor"] != nil })
                    await control.stop()
                    try await waitUntil("the sidecar notices the backend is gone") {
                        (try await httpGet("http://127.0.0.1:\(port)/status").body).contains("upstream_unreachable")
                    }
                    let answer = try await httpGet("http://127.0.0.1:\(port)/streams?host=ingest-7")
                    #expect(answer.status == 200 && answer.body.contains("\"a\"") && answer.body.contains("\"b\""))
                    let put = try await httpSend(
                        .PUT, "http://127.0.0.1:\(port)/admin/streams/c", json: #"{"inputs": [{"url": "fake://c"}]}"#)
                    #expect(put.status == 409)
                }
            }
        }

        @Test(.enabled(if: PostgresServer.enabled))
        func aPostgresRowChangeReachesTheNodeAndTheReplicaOutlivesTheCentre() async throws {
            let server = try PostgresServer.start(port: try await freeTCPPort())
            defer { server.destroy() }
            try await withTemporaryDirectory { directory in
                let replica = directory.appendingPathComponent("replica.sqlite").path
                let nodePort = try await freeTCPPort()
                let settings = SidecarSettings(
                    listenHost: "127.0.0.1", listenPort: 0, upstream: server.url, replicaPath: replica,
                    identity: SidecarIdentity(hostname: "ingest-0", advertise: "127.0.0.1:\(nodePort)"),
                    nodeURL: "http://127.0.0.1:\(nodePort)")
                var sidecarPort = 0
                try await withSidecar(settings) { sidecar, port in
                    sidecarPort = port
                    try await waitUntil("the sidecar applied the schema and replicated") { sidecar.state.health.state == "ok" }
                    try server.psql(
                        """
                        INSERT INTO estuary_streams(name, config) VALUES
                          ('pg1', '{"name": "pg1", "inputs": [{"url": "fake://pg1"}]}'),
                          ('pg2', '{"name": "pg2", "inputs": [{"url": "fake://pg2"}]}')
                        """)
                    try await withNode(
                        streams: [],
                        options: {
                            $0.hostname = "ingest-0"
                            $0.httpPort = nodePort
                            $0.configExternalOverride = "http://127.0.0.1:\(port)/streams"
                        }
                    ) { _, _ in
                        try await waitUntil("the node runs both streams") { try await nodeStreams(port: nodePort).names == ["pg1", "pg2"] }
                        // A row change: the sidecar serves it in under a second, the node's next cycle applies it.
                        let changed = ContinuousClock.now
                        try server.psql(
                            """
                            UPDATE estuary_streams SET config = '{"name": "pg1", "inputs": [{"url": "fake://pg1", "source_timeout": 7}]}'
                            WHERE name = 'pg1'
                            """)
                        try await waitUntil("the sidecar serves the change", timeout: .seconds(5)) {
                            sidecar.state.config?.streams[StreamKey(role: "ingest", name: "pg1")]?.config.inputs.first?.sourceTimeout == 7
                        }
                        let toSidecar = ContinuousClock.now - changed
                        try server.psql("UPDATE estuary_streams SET deleted = true WHERE name = 'pg2'")
                        let removed = ContinuousClock.now
                        try await waitUntil("the node stops pg2", timeout: .seconds(5)) {
                            try await nodeStreams(port: nodePort).names == ["pg1"]
                        }
                        let toNode = ContinuousClock.now - removed
                        print("[sidecar] PostgreSQL row change → sidecar answer: \(toSidecar); row removal → node stopped it: \(toNode)")
                        #expect(toSidecar < .seconds(1))
                        #expect(toNode < .seconds(3))
                        // The admin API writes through to PostgreSQL, and names the field it refuses.
                        let bad = try await httpSend(
                            .PUT, "http://127.0.0.1:\(port)/admin/streams/pg3",
                            json: #"{"inputs": [{"url": "fake://pg3", "priority": "high"}]}"#)
                        #expect(bad.status == 400 && bad.body.contains("inputs[0].priority"), "\(bad.body)")
                        let good = try await httpSend(
                            .PUT, "http://127.0.0.1:\(port)/admin/streams/pg3", json: #"{"inputs": [{"url": "fake://pg3"}]}"#)
                        #expect(good.status == 200)
                        #expect(try server.psql("SELECT count(*) FROM estuary_streams WHERE name = 'pg3' AND NOT deleted") == "1")
                        try await waitUntil("the node runs the stream added through the admin API") {
                            try await nodeStreams(port: nodePort).names == ["pg1", "pg3"]
                        }
                        let removed3 = try await httpSend(.DELETE, "http://127.0.0.1:\(port)/admin/streams/pg3")
                        #expect(removed3.status == 204)
                        let again = try await httpSend(.DELETE, "http://127.0.0.1:\(port)/admin/streams/pg3")
                        #expect(again.status == 404)
                        try await waitUntil("the node stops it") { try await nodeStreams(port: nodePort).names == ["pg1"] }
                    }
                }
                // The centre goes away; a restarted sidecar serves the replica from disk at once.
                try server.stopServer()
                try await withSidecar(settings) { sidecar, port in
                    #expect(port != 0 && sidecarPort != 0)
                    try await waitUntil("the replica is served", timeout: .seconds(3)) {
                        let (body, status) = try await httpGet("http://127.0.0.1:\(port)/streams?host=ingest-0")
                        return status == 200 && body.contains("\"pg1\"") && !body.contains("\"pg2\"")
                    }
                    try await waitUntil("the sidecar reports the centre unreachable with the data's age") {
                        let status = try await httpGet("http://127.0.0.1:\(port)/status").body
                        return status.contains("upstream_unreachable") && status.contains("data_age_seconds")
                    }
                    #expect(sidecar.state.leases?[StreamKey(role: "ingest", name: "pg1")]?.node == "ingest-0")
                }
            }
        }

        /// Runs `body` with one sidecar on a new PostgreSQL (node `ingest-0`) once a lease pass went through, and a
        /// lease row the incremental reads can never see written: with the version trigger off, version 0 (below the
        /// sidecar's cursor), `stream` held by `ingest-9` at epoch `epoch`; `extraSQL` runs after it.
        func withLeaseRowBehindTheCursor(
            stream: String, epoch: Int, extraSQL: String = "", _ body: (Sidecar, PostgresServer) async throws -> Void
        ) async throws {
            let server = try PostgresServer.start(port: try await freeTCPPort())
            defer { server.destroy() }
            let settings = SidecarSettings(
                listenHost: "127.0.0.1", listenPort: 0, upstream: server.url,
                identity: SidecarIdentity(hostname: "ingest-0", advertise: "127.0.0.1:1"), nodeURL: "")
            try await withSidecar(settings) { sidecar, _ in
                // A lease pass has read the (empty) lease table once: its node is in the cluster view it sets.
                try await waitUntil("a lease pass went through") { sidecar.state.cluster.contains { $0.node.name == "ingest-0" } }
                try server.psql(
                    """
                    ALTER TABLE estuary_leases DISABLE TRIGGER estuary_leases_touch;
                    INSERT INTO estuary_leases(role, stream, node, epoch, version) VALUES ('ingest', '\(stream)', 'ingest-9', \(epoch), 0);
                    ALTER TABLE estuary_leases ENABLE TRIGGER estuary_leases_touch;
                    \(extraSQL)
                    """)
                try await body(sidecar, server)
            }
        }

        /// A lease row the incremental lease read can never see, for a stream this sidecar never plans (not
        /// configured, so no claim of it can fail and reveal it), is found by the periodic audit of the lease view:
        /// the table's row count and version sum differ from the view's, and every lease is read again.
        @Test(.enabled(if: PostgresServer.enabled))
        func aLeaseRowTheIncrementalReadMissedIsFoundByTheAudit() async throws {
            try await withLeaseRowBehindTheCursor(stream: "ghost", epoch: 3) { sidecar, _ in
                try await waitUntil("the audit finds the row the incremental reads missed", timeout: .seconds(20)) {
                    sidecar.state.leases?[StreamKey(role: "ingest", name: "ghost")] == Lease(node: "ingest-9", epoch: 3)
                }
            }
        }

        /// A lease row the incremental lease read can never see (written with the version trigger off, below the
        /// sidecar's cursor) leaves the sidecar believing the stream is free: its claims change nothing. Two such
        /// claims in a row make it read every lease again, find the holder (gone from the registry) and take the
        /// stream over, instead of claiming it in vain forever.
        @Test(.enabled(if: PostgresServer.enabled))
        func aLeaseRowTheIncrementalReadMissedIsFoundWhenClaimsOfItChangeNothing() async throws {
            let stream =
                #"INSERT INTO estuary_streams(name, config) VALUES ('lost', '{"name": "lost", "inputs": [{"url": "fake://lost"}]}');"#
            try await withLeaseRowBehindTheCursor(stream: "lost", epoch: 4, extraSQL: stream) { sidecar, server in
                let key = StreamKey(role: "ingest", name: "lost")
                try await waitUntil("the stream is taken over from the holder the view had missed", timeout: .seconds(20)) {
                    try server.psql("SELECT node || '/' || epoch FROM estuary_leases WHERE stream = 'lost'") == "ingest-0/5"
                        && sidecar.state.leases?[key]?.node == "ingest-0"
                }
            }
        }
    }
}
