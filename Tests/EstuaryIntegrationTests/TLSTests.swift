import AsyncHTTPClient
import EstuaryClusterAuth
import EstuaryConfig
import EstuaryDVR
import EstuaryNode
import EstuaryReplication
import EstuarySources
import EstuaryTLS
import EstuaryTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// A certificate authority and a certificate it signed for 127.0.0.1 and localhost, made with Debian's openssl.
struct TestCertificates {
    let ca: String
    let certificate: String
    let key: String

    /// Makes a new CA called `name` in `directory` and a server certificate signed by it.
    static func make(_ name: String, in directory: URL) throws -> TestCertificates {
        let base = directory.appendingPathComponent("tls-\(name)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        func path(_ file: String) -> String { base.appendingPathComponent(file).path }
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: path("ext.cnf"), atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(
            ["req", "-x509"] + ec + [
                "-keyout", path("ca.key"), "-out", path("ca.crt"), "-days", "2", "-subj", "/CN=Estuary test CA \(name)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try openssl(["req"] + ec + ["-keyout", path("node.key"), "-out", path("node.csr"), "-subj", "/CN=127.0.0.1"])
        try openssl([
            "x509", "-req", "-in", path("node.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"), "-CAcreateserial",
            "-out", path("node.crt"), "-days", "2", "-extfile", path("ext.cnf"),
        ])
        return TestCertificates(ca: path("ca.crt"), certificate: path("node.crt"), key: path("node.key"))
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("openssl \(arguments.prefix(2)) failed: \(text)") }
    }

    /// An HTTP client trusting this CA (and the system's roots).
    func client() throws -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = try TLSClientTrust.configuration(caFile: ca)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}

/// Runs `body`, then shuts `clients` down (whether `body` threw or not).
func shuttingDown<T>(_ clients: HTTPClient..., after body: () async throws -> T) async throws -> T {
    let result: Result<T, any Error>
    do {
        result = .success(try await body())
    } catch {
        result = .failure(error)
    }
    for client in clients { try? await client.shutdown() }
    return try result.get()
}

/// `GET url` with `client`; the status, or the error's text.
func tlsStatus(_ client: HTTPClient, _ url: String) async -> Result<Int, TestFailure> {
    do {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
        return .success(Int(response.status.code))
    } catch {
        return .failure(TestFailure(TLSError.explain(error) ?? "\(error)"))
    }
}

extension IntegrationTests {
    /// HTTPS listeners, `m4fs://` inputs and pushes, replication over TLS, with throwaway CAs.
    @Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"))) struct TLSTests {
        /// Node A serves HTTPS; B pulls from it and pushes back to it over m4fs:// trusting A's CA; C trusts another
        /// CA and is refused with a clear error.
        @Test func anM4FChainRunsOverTLSAndAWrongCAIsRefused() async throws {
            try await withTemporaryDirectory { directory in
                let right = try TestCertificates.make("A", in: directory)
                let wrong = try TestCertificates.make("B", in: directory)
                let key = "tls-chain-key"
                let sourceStreams = [stream("cam", "fake://cam"), stream("back", "publish://", timeout: 10)]
                try await withNode(
                    streams: sourceStreams, clusterKey: key, logLevel: .critical,
                    options: {
                        $0.httpsPort = 0
                        $0.tls = TLSConfig(certificate: right.certificate, key: right.key)
                    }
                ) { source, plainPort in
                    try await waitUntil("the HTTPS listener is up") { source.httpsPort != nil }
                    let httpsPort = try #require(source.httpsPort)
                    let client = try right.client()
                    try await shuttingDown(client) { () async throws in
                        #expect(try await tlsStatus(client, "https://127.0.0.1:\(httpsPort)/healthz").get() == 200)
                        // HTTPS carries the same API, with the same rights: the stream is there.
                        #expect(try await tlsStatus(client, "https://127.0.0.1:\(httpsPort)/streamer/api/v3/streams/cam").get() == 200)
                    }
                    #expect(try await httpStatus("http://127.0.0.1:\(plainPort)/healthz") == 200, "plain HTTP still serves")

                    var relay = stream("relay", "m4fs://127.0.0.1:\(httpsPort)/cam")
                    relay.pushes = [PushConfig(url: "m4fs://127.0.0.1:\(httpsPort)/back")]
                    try await withNode(
                        streams: [relay], clusterKey: key, logLevel: .critical, options: { $0.tls = TLSConfig(ca: right.ca) }
                    ) { relayNode, relayPort in
                        try await waitUntil("the relay plays over m4fs://", timeout: .seconds(20)) {
                            relayNode.manager.stream(named: "relay")?.isAlive == true
                        }
                        try await waitUntil("the push over m4fs:// feeds the source's publish:// input", timeout: .seconds(20)) {
                            source.manager.stream(named: "back")?.isAlive == true
                        }
                        let read = try await readM4F(
                            url: "http://127.0.0.1:\(relayPort)/relay/m4f",
                            authorization: ClusterAuth(key: key).authorizationHeader(method: "GET", path: "/relay/m4f"),
                            timeout: .seconds(15)
                        ) { _, fragments, _ in fragments.count >= 5 }
                        #expect(read.fragments.count >= 5, "the relayed stream carries fragments")
                        #expect(!read.tracks.isEmpty)
                    }

                    try await withNode(
                        streams: [stream("untrusted", "m4fs://127.0.0.1:\(httpsPort)/cam", timeout: 5)], clusterKey: key,
                        logLevel: .critical,
                        options: { $0.tls = TLSConfig(ca: wrong.ca) }
                    ) { untrustedNode, _ in
                        do {
                            try await waitUntil("the wrong CA is reported", timeout: .seconds(20)) {
                                untrustedNode.manager.stream(named: "untrusted")?.inputStatus.snapshot.lastError?.contains("not trusted")
                                    == true
                            }
                        } catch {
                            let snapshot = untrustedNode.manager.stream(named: "untrusted")?.inputStatus.snapshot
                            throw TestFailure("\(error); the input reports \(String(describing: snapshot))")
                        }
                        #expect(untrustedNode.manager.stream(named: "untrusted")?.isAlive == false)
                        let error = untrustedNode.manager.stream(named: "untrusted")?.inputStatus.snapshot.lastError ?? ""
                        #expect(error.contains("certificate verify failed"), "\(error)")
                    }
                    let untrusting = try wrong.client()
                    let refused = try await shuttingDown(untrusting) { () async throws -> Result<Int, TestFailure> in
                        await tlsStatus(untrusting, "https://127.0.0.1:\(httpsPort)/healthz")
                    }
                    #expect(throws: TestFailure.self) { try refused.get() }
                }
            }
        }

        /// A rotated certificate is served without a restart; a broken rotation keeps the last good one.
        @Test func theHTTPSCertificateIsReloadedWhenItsFilesChange() async throws {
            try await withTemporaryDirectory { directory in
                let first = try TestCertificates.make("first", in: directory)
                let second = try TestCertificates.make("second", in: directory)
                let live = directory.appendingPathComponent("live")
                try FileManager.default.createDirectory(at: live, withIntermediateDirectories: true)
                let certificate = live.appendingPathComponent("tls.crt").path
                let key = live.appendingPathComponent("tls.key").path
                /// Replaces both files by renames, as a secret rotation does.
                func install(_ certificates: TestCertificates) throws {
                    for (from, to) in [(certificates.certificate, certificate), (certificates.key, key)] {
                        let staged = to + ".new"
                        try? FileManager.default.removeItem(atPath: staged)
                        try FileManager.default.copyItem(atPath: from, toPath: staged)
                        _ = rename(staged, to)
                    }
                }
                try install(first)
                try await withNode(
                    streams: [], logLevel: .critical,
                    options: {
                        $0.httpsPort = 0
                        $0.tls = TLSConfig(certificate: certificate, key: key)
                    }
                ) { node, _ in
                    try await waitUntil("the HTTPS listener is up") { node.httpsPort != nil }
                    let url = "https://127.0.0.1:\(try #require(node.httpsPort))/healthz"
                    let firstClient = try first.client()
                    let secondClient = try second.client()
                    try await shuttingDown(firstClient, secondClient) { () async throws in
                        #expect(try await tlsStatus(firstClient, url).get() == 200)
                        let before = await tlsStatus(secondClient, url)
                        #expect(throws: TestFailure.self) { try before.get() }

                        try install(second)
                        try await waitUntil("the new certificate is served", timeout: .seconds(15)) {
                            (try? await tlsStatus(secondClient, url).get()) == 200
                        }
                        #expect(node.tlsCertificates?.generation == 2)

                        try "not a certificate".write(toFile: certificate, atomically: true, encoding: .utf8)
                        try await waitUntil("the broken rotation is reported", timeout: .seconds(15)) {
                            node.tlsCertificates?.lastError != nil
                        }
                        #expect(node.tlsCertificates?.lastError?.description.contains(certificate) == true)
                        #expect(try await tlsStatus(secondClient, url).get() == 200, "the last good certificate stays in use")
                    }
                }
            }
        }

        /// A real ingest-node configured from YAML serves HTTPS and reloads its certificate on SIGHUP, staying up.
        @Test func anIngestNodeProcessReloadsItsCertificateOnSIGHUP() async throws {
            let binary = try TestProcesses.binary("ingest-node")
            try await withTemporaryDirectory { directory in
                let certificates = try TestCertificates.make("A", in: directory)
                let httpPort = try await freeTCPPort()
                var httpsPort = try await freeTCPPort()
                while httpsPort == httpPort { httpsPort = try await freeTCPPort() }
                let config = directory.appendingPathComponent("node.yaml").path
                try """
                listen: {http: \(httpPort), https: \(httpsPort)}
                tls: {certificate: \(certificates.certificate), key: \(certificates.key)}
                streams:
                  - {name: cam, inputs: [{url: "fake://cam"}]}
                """.write(toFile: config, atomically: true, encoding: .utf8)
                let log = directory.appendingPathComponent("ingest.log").path
                let processes = TestProcesses()
                defer { processes.stopAll() }
                try processes.start("ingest", binary, ["--config", config, "--rtmp-port", "\(try await freeTCPPort())"], log: log)
                let client = try certificates.client()
                try await shuttingDown(client) { () async throws in
                    try await waitUntil("the node serves HTTPS", timeout: .seconds(20)) {
                        (try? await tlsStatus(client, "https://127.0.0.1:\(httpsPort)/cam/index.m3u8").get()) == 200
                    }
                    processes.signal("ingest", SIGHUP)
                    try await waitUntil("the reload is logged") {
                        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                        return text.contains("tls certificate reloaded") && text.contains("SIGHUP")
                    }
                    #expect(processes.isRunning("ingest"), "SIGHUP ended the node")
                    #expect(try await tlsStatus(client, "https://127.0.0.1:\(httpsPort)/healthz").get() == 200)
                    #expect(try await httpStatus("http://127.0.0.1:\(httpPort)/healthz") == 200)
                }
            }
        }

        /// The replicator copies from a primary's replication listener, which speaks TLS because the primary serves
        /// HTTPS (`m4fs://` input, `replication_port`), trusting the test CA; with another CA it reports `tls_error`
        /// and copies nothing.
        @Test func replicationRunsOverTLS() async throws {
            try await withTemporaryDirectory { directory in
                let right = try TestCertificates.make("A", in: directory)
                let wrong = try TestCertificates.make("B", in: directory)
                let key = "tls-replication-key"
                let primaryRoot = directory.appendingPathComponent("a").path
                let now = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
                let seeded = try seedArchive(root: primaryRoot, name: "s", count: 5, size: 20_000, endingAtMs: now)
                let idle = try await freeUDPPort()
                try await withNode(
                    streams: [recorded("s", root: primaryRoot, input: "udp://127.0.0.1:\(idle)", timeout: 600)], clusterKey: key,
                    logLevel: .critical,
                    options: {
                        $0.httpsPort = 0
                        $0.replicationPort = 0
                        $0.tls = TLSConfig(certificate: right.certificate, key: right.key)
                    }
                ) { primary, _ in
                    try await waitUntil("the HTTPS and replication listeners are up") {
                        primary.httpsPort != nil && primary.replicationPort != nil
                    }
                    let httpsPort = try #require(primary.httpsPort)
                    let replicationPort = try #require(primary.replicationPort)
                    let client = try right.client()
                    let archiveOnly = try await shuttingDown(client) { () async throws -> Result<Int, TestFailure> in
                        await tlsStatus(client, "https://127.0.0.1:\(replicationPort)/streamer/api/v3/streams")
                    }
                    #expect(try archiveOnly.get() == 404, "the replication listener serves only the archive")
                    let secondaryStreams = [
                        recorded(
                            "s", root: directory.appendingPathComponent("b").path, input: "m4fs://127.0.0.1:\(httpsPort)/s", timeout: 600
                        ) {
                            $0.replicate = true
                            $0.replicationPort = replicationPort
                        }
                    ]
                    try await withNode(
                        streams: secondaryStreams, clusterKey: key, logLevel: .critical, options: { $0.tls = TLSConfig(ca: right.ca) }
                    ) { _, port in
                        var logger = Logger(label: "test.replicator")
                        logger.logLevel = .critical
                        var settings = ReplicatorSettings(
                            target: "http://127.0.0.1:\(port)", clusterKey: key, interval: .milliseconds(500), settleMs: 9_000,
                            tlsCA: wrong.ca)
                        let wrongClient = try Replicator.makeHTTPClient(settings)
                        let refused = Replicator(settings: settings, logger: logger, client: wrongClient)
                        try await shuttingDown(wrongClient) { () async throws in
                            try await ReplicationTests.withReplicator(refused) {
                                try await waitUntil("the untrusted primary is reported") {
                                    refused.status["s"]?.lastErrorReason == "tls_error"
                                }
                            }
                        }
                        #expect(refused.status["s"]?.lastError?.contains("not trusted") == true, "\(refused.status["s"]?.lastError ?? "")")
                        #expect(try await archiveSegments(port: port, "s", key: key).isEmpty, "nothing was copied")

                        settings.tlsCA = right.ca
                        let client = try Replicator.makeHTTPClient(settings)
                        let replicator = Replicator(settings: settings, logger: logger, client: client)
                        try await shuttingDown(client) { () async throws in
                            try await ReplicationTests.withReplicator(replicator) {
                                try await waitUntil("the archive is copied over TLS", timeout: .seconds(30)) {
                                    (try? await archiveSegments(port: port, "s", key: key).map(\.sha256)) == seeded.map(\.sha256Hex)
                                }
                            }
                        }
                        #expect(replicator.status["s"]?.copiedSegments == seeded.count)
                    }
                }
            }
        }

        /// A CA file that holds no certificate stops the node at start with the file's name.
        @Test func anUnreadableCAFileStopsTheNodeWithItsName() async throws {
            try await withTemporaryDirectory { directory in
                let ca = directory.appendingPathComponent("empty-ca.pem").path
                try "".write(toFile: ca, atomically: true, encoding: .utf8)
                #expect(throws: TLSError.self) { try TLSClientTrust.configuration(caFile: ca) }
                do {
                    _ = try TLSClientTrust.configuration(caFile: ca)
                } catch {
                    #expect("\(error)".contains(ca), "\(error)")
                }
                var options = NodeOptions(httpHost: "127.0.0.1", httpPort: 0, hostname: "tls-test")
                options.tls = TLSConfig(ca: ca)
                var logger = Logger(label: "test.tls")
                logger.logLevel = .critical
                let node = Node(options: options, streams: [], logger: logger)
                await #expect(throws: TLSError.self) { try await node.run() }
            }
        }
    }
}
