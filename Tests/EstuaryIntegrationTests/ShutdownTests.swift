import AsyncHTTPClient
import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuaryNode
import EstuarySources
import EstuaryTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

extension IntegrationTests {
    /// The real `ingest-node` process exits 0 within 2 s of SIGTERM with live M4F clients attached.
    @Suite(.serialized) struct ShutdownTests {
        static var ingestNodeBinary: URL {
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ingest-node")
        }

        @Test func sigtermWithLiveClientsExitsCleanlyWithinTwoSeconds() async throws {
            let binary = Self.ingestNodeBinary
            try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build ingest-node first: \(binary.path)")
            try await withTemporaryDirectory { directory in
                let config = directory.appendingPathComponent("node.yaml")
                try "streams:\n  - name: cam\n    inputs: [{url: \"fake://cam\"}]\n".write(to: config, atomically: true, encoding: .utf8)
                let port = try await freeTCPPort()
                let process = Process()
                process.executableURL = binary
                process.arguments = ["--config", config.path, "--http-port", String(port)]
                process.environment = ["LOG_LEVEL": "error", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                defer { if process.isRunning { process.terminate() } }
                try await waitUntil("node alive") {
                    (try? await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/streams/cam"))?.body.contains("\"alive\":true") == true
                }
                // Two live M4F readers that keep reading and count what they receive.
                let received = ReceivedBytes()
                let readers = (0..<2).map { index in
                    Task {
                        let response = try await HTTPClient.shared.execute(
                            HTTPClientRequest(url: "http://127.0.0.1:\(port)/cam/m4f"), timeout: .seconds(5))
                        for try await bytes in response.body { received.add(bytes.readableBytes, reader: index) }
                    }
                }
                try await waitUntil("both readers receive media") { received.everyReaderGotMedia }
                let start = ContinuousClock.now
                kill(process.processIdentifier, SIGTERM)
                try await waitUntil("process exit", timeout: .seconds(2)) { !process.isRunning }
                let elapsed = ContinuousClock.now - start
                #expect(process.terminationReason == .exit)
                #expect(process.terminationStatus == 0)
                #expect(elapsed < .seconds(2))
                // Each response ends once the process is gone, whether the node finished the body
                // or the connection closed under it: neither reader hangs.
                for reader in readers { _ = await reader.result }
            }
        }

        /// Cancelling a node while connections pour in closes its listener first: the process does not trap on
        /// connections accepted but not yet served (apple/swift-nio#2813), the node ends promptly, and the port refuses.
        @Test func cancellingANodeWhileConnectionsArriveNeitherTrapsNorHangs() async throws {
            for round in 0..<5 {
                var logger = Logger(label: "test.node")
                logger.logLevel = .critical
                let node = Node(
                    options: NodeOptions(httpHost: "127.0.0.1", httpPort: 0, hostname: "test-node"),
                    streams: [stream("cam", "fake://cam")], logger: logger)
                let running = Task { try await node.run() }
                let port = await node.waitUntilListening()
                // A burst of connections, each sending a request head, and the cancellation right behind them.
                let connections = try await withThrowingTaskGroup(of: (any Channel)?.self) { group in
                    for _ in 0..<64 {
                        group.addTask {
                            let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                                .connect(host: "127.0.0.1", port: port).get()
                            try? await channel?.writeAndFlush(ByteBuffer(string: "GET /cam/m4f HTTP/1.1\r\nHost: x\r\n\r\n"))
                            return channel
                        }
                    }
                    var opened: [any Channel] = []
                    for try await channel in group { if let channel { opened.append(channel) } }
                    return opened
                }
                running.cancel()
                let start = ContinuousClock.now
                _ = await running.result
                let elapsed = ContinuousClock.now - start
                #expect(elapsed < .seconds(4), "round \(round): the node took \(elapsed) to end after its cancellation")
                #expect(!connections.isEmpty, "round \(round): no connection reached the node")
                let late = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: port).get()
                #expect(late == nil, "round \(round): port \(port) still accepts after the node ended")
                try? await late?.close()
                for channel in connections { try? await channel.close() }
            }
        }
    }
}

/// Bytes each live reader received, shared between the reader tasks and the test.
private final class ReceivedBytes: Sendable {
    private let counts = Mutex([0, 0])

    func add(_ count: Int, reader: Int) { counts.withLock { $0[reader] += count } }

    var everyReaderGotMedia: Bool { counts.withLock { $0.allSatisfy { $0 > 0 } } }
}
