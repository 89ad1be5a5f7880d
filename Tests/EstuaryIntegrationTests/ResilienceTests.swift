import AsyncHTTPClient
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
import NIOPosix
import Testing

extension IntegrationTests {
    /// Slow readers, damaged input and failover never hurt anyone else.
    @Suite(.serialized) struct ResilienceTests {
        @Test func aSlowReaderDoesNotDelayAFastOne() async throws {
            let limits = HubLimits(maximumQueuedBytes: 256 << 10, stallTimeout: .seconds(1))
            try await withNode(streams: [stream("cam", "fake://cam")], options: { $0.readerLimits = limits }) { node, port in
                try await waitUntil("cam alive") { node.manager.stream(named: "cam")?.isAlive == true }
                let stalled = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelOption(.socketOption(.so_rcvbuf), value: 2048)
                    .channelOption(.autoRead, value: false)
                    .connect(host: "127.0.0.1", port: port).get()
                defer { stalled.close(promise: nil) }
                try await stalled.writeAndFlush(ByteBuffer(string: "GET /cam/m4f HTTP/1.1\r\nHost: x\r\n\r\n")).get()
                let hub = try #require(node.manager.stream(named: "cam")?.pipeline.m4f)
                try await waitUntil("the stalled reader is subscribed") { hub.statistics.readers >= 1 }

                // The fast reader measures how late each fragment arrives against its UTC time.
                let read = try await readM4F(url: "http://127.0.0.1:\(port)/cam/m4f", timeout: .seconds(30)) { _, _, _ in
                    hub.statistics.disconnectedReaders >= 1 || hub.statistics.skipEvents >= 1
                }
                let stats = hub.statistics
                #expect(stats.skipEvents >= 1 || stats.disconnectedReaders >= 1, "the slow reader never overflowed: \(stats)")
                // Skip the GOP-cache burst at the start; after that each fragment is at most one fragment late.
                let live = Array(zip(read.fragments, read.arrivals).dropFirst(15))
                #expect(!live.isEmpty)
                for (fragment, arrival) in live {
                    let lateness = arrival - fragment.wallClockMicros
                    #expect(lateness < 450_000, "a fragment arrived \(lateness / 1000) ms after its time")
                }
            }
        }

        @Test(.enabled(if: FFmpegTool.enabled)) func damagedTSInputIsReportedAndRecovers() async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await TSIngestTests.makeClip(in: directory)
                let clipBytes = try Data(contentsOf: URL(fileURLWithPath: clip.path))
                let udpPort = try await freeUDPPort()
                let streams = [stream("good", "fake://good"), stream("bad", "udp://127.0.0.1:\(udpPort)", timeout: 20)]
                try await withNode(streams: streams) { node, port in
                    let good = try #require(node.manager.stream(named: "good"))
                    let bad = try #require(node.manager.stream(named: "bad"))
                    try await waitUntil("good alive") { good.isAlive }
                    let sender = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0)
                        .get()
                    defer { sender.close(promise: nil) }
                    let target = try SocketAddress(ipAddress: "127.0.0.1", port: udpPort)
                    func send(_ bytes: [UInt8]) async throws {
                        try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: bytes))).get()
                    }
                    var generator = SystemRandomNumberGenerator()
                    // Garbage, then the clip with flipped bits and truncated packets, then the clean clip.
                    for _ in 0..<50 { try await send((0..<1316).map { _ in UInt8.random(in: 0...255, using: &generator) }) }
                    let packets = Array(clipBytes)
                    var damaged = packets
                    for index in stride(from: 5000, to: damaged.count, by: 7919) { damaged[index] ^= 0x5A }
                    let goodFramesBefore = good.pipeline.statistics.framesIn
                    for (index, chunk) in stride(from: 0, to: damaged.count, by: 1316).enumerated() {
                        let end = min(chunk + 1316, damaged.count)
                        // Every 40th datagram is cut short.
                        try await send(Array(damaged[chunk..<(index % 40 == 39 ? chunk + 500 : end)]))
                        if index % 20 == 0 { try await Task.sleep(for: .milliseconds(2)) }
                    }
                    for chunk in stride(from: 0, to: packets.count, by: 1316) {
                        try await send(Array(packets[chunk..<min(chunk + 1316, packets.count)]))
                        if chunk % (1316 * 20) == 0 { try await Task.sleep(for: .milliseconds(2)) }
                    }
                    try await waitUntil("bad stream delivers frames after the damage") { bad.pipeline.statistics.framesIn > 100 }
                    let (api, _) = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/streams/bad")
                    let json = try #require(try JSONSerialization.jsonObject(with: Data(api.utf8)) as? [String: Any])
                    let stats = try #require(json["stats"] as? [String: Any])
                    #expect((stats["input_errors"] as? Int ?? 0) > 0, "damage was not reported: \(api)")
                    #expect((stats["last_input_error"] as? String)?.isEmpty == false)
                    #expect(good.pipeline.statistics.framesIn > goodFramesBefore, "the other stream stopped")
                    #expect(good.isAlive)
                }
            }
        }

        @Test func failsOverToTheNextInputAndReturnsToThePreferredOne() async throws {
            try await withNode(streams: [stream("src", "fake://src")]) { _, portA in
                let preferredPort = try await freeTCPPort()
                let config = StreamConfig(
                    name: "cam",
                    inputs: [
                        InputConfig(url: "m4f://127.0.0.1:\(preferredPort)/src", sourceTimeout: 2, priority: 0),
                        InputConfig(url: "m4f://127.0.0.1:\(portA)/src", sourceTimeout: 2, priority: 1),
                    ])
                try await withNode(streams: [config]) { nodeB, _ in
                    let cam = try #require(nodeB.manager.stream(named: "cam"))
                    try await waitUntil("the second input took over") { cam.inputStatus.snapshot.activeInput == 1 && cam.isAlive }
                    // The preferred input comes up: the stream returns to it at its next keyframe.
                    try await withNode(streams: [stream("src", "fake://src")], options: { $0.httpPort = preferredPort }) { _, _ in
                        let framesBefore = cam.pipeline.statistics.framesIn
                        try await waitUntil("back on the preferred input", timeout: .seconds(20)) {
                            cam.inputStatus.snapshot.activeInput == 0 && cam.pipeline.statistics.framesIn > framesBefore + 50
                        }
                        #expect(cam.inputStatus.snapshot.switches >= 1, "one switch back from the fallback to the preferred input")
                        #expect(cam.isAlive)
                    }
                }
            }
        }
    }
}
