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
import Testing

extension IntegrationTests {
    /// ffprobe, as an independent client, reads every live output of a `fake://` stream.
    @Suite(.serialized) struct LiveOutputTests {
        @Test(.enabled(if: FFmpegTool.enabled)) func ffprobeReadsM4FHLSAndMPEGTS() async throws {
            try await withNode(streams: [stream("cam", "fake://cam")]) { node, port in
                try await waitUntil("cam alive") { node.manager.stream(named: "cam")?.isAlive == true }
                let base = "http://127.0.0.1:\(port)/cam"
                for output in ["m4f", "mpegts"] {
                    let streams = try await FFmpegTool.probe("\(base)/\(output)", readSeconds: 4)
                    let video = try #require(streams.first { $0.codec == "h264" }, "\(output): no H.264 stream in \(streams)")
                    #expect(video.width == 960 && video.height == 540, "\(output): \(video)")
                    // 4 s at 25 fps is 100 frames; a reader starts at the last keyframe, so allow one GOP (50).
                    let frames = try #require(video.frames, "\(output): no frame count")
                    #expect(abs(frames - 100) <= 50, "\(output): \(frames) video frames for 4 s")
                    #expect(streams.contains { $0.codec == "aac" }, "\(output): no AAC stream in \(streams)")
                }
                let hls = try await FFmpegTool.probe("\(base)/index.m3u8", readSeconds: 3)
                let video = try #require(hls.first { $0.codec == "h264" }, "HLS: no H.264 stream in \(hls)")
                #expect(video.width == 960 && video.height == 540)
                #expect((video.frames ?? 0) >= 50, "HLS: \(video)")
                #expect(hls.contains { $0.codec == "aac" })
            }
        }

        @Test func playlistListsSegmentsWithTargetDurationAndMap() async throws {
            try await withNode(streams: [stream("cam", "fake://cam")]) { node, port in
                // The first request starts HLS packaging and waits for the first segment.
                let (first, firstStatus) = try await httpGet("http://127.0.0.1:\(port)/cam/index.m3u8")
                #expect(firstStatus == 200)
                #expect(first.contains("#EXTINF:"))
                try await waitUntil("two segments") {
                    (node.manager.stream(named: "cam")?.pipeline.hlsPlaylist()?.components(separatedBy: "#EXTINF").count ?? 0) >= 3
                }
                let (body, status) = try await httpGet("http://127.0.0.1:\(port)/cam/index.m3u8")
                #expect(status == 200)
                #expect(body.contains("#EXT-X-TARGETDURATION:2"))
                #expect(body.contains("#EXT-X-MAP:URI=\"init-1.mp4\""))
                let segments = body.split(separator: "\n").filter { $0.hasPrefix("seg-") }
                #expect(segments.count >= 2)
                for line in body.split(separator: "\n") where line.hasPrefix("#EXTINF:") {
                    let seconds = Double(line.dropFirst(8).dropLast()) ?? 0
                    #expect(abs(seconds - 2.0) < 0.05, "segment of \(seconds) s; the test clip's GOP is 2 s")
                }
                let (_, segmentStatus) = try await httpGet("http://127.0.0.1:\(port)/cam/\(segments[0])")
                #expect(segmentStatus == 200)
            }
        }

        @Test func liveClientsShareAFanOutPerEventLoopAndEachGetsEveryFragmentInOrder() async throws {
            try await withNode(streams: [stream("cam", "fake://cam")]) { node, port in
                let cam = try #require(node.manager.stream(named: "cam"))
                try await waitUntil("cam alive") { cam.isAlive }
                let readers = 6
                let reads = try await withThrowingTaskGroup(of: [UInt32].self) { group in
                    for _ in 0..<readers {
                        group.addTask {
                            let read = try await readM4F(url: "http://127.0.0.1:\(port)/cam/m4f", timeout: .seconds(20)) {
                                _, fragments, _ in
                                fragments.count >= 15
                            }
                            return read.fragments.map(\.sequenceNumber)
                        }
                    }
                    // While all are reading: every client is counted, and they share at most one fan-out per event loop.
                    try await waitUntil("every client joined") { cam.pipeline.m4f.statistics.readers == readers }
                    let fanouts = node.liveFanoutCount
                    #expect(fanouts >= 1 && fanouts <= System.coreCount, "\(fanouts) fan-outs for \(readers) clients")
                    var all: [[UInt32]] = []
                    for try await sequence in group { all.append(sequence) }
                    return all
                }
                #expect(reads.count == readers)
                for sequence in reads {
                    #expect(sequence.count >= 15)
                    // The GOP cache, then live fragments: nothing missing, nothing twice, nothing out of order.
                    #expect(zip(sequence, sequence.dropFirst()).allSatisfy { $1 == $0 &+ 1 }, "fragments \(sequence)")
                }
                // The clients left: the fan-outs detached from the hub.
                try await waitUntil("the fan-outs detached") { node.liveFanoutCount == 0 && cam.pipeline.m4f.statistics.readers == 0 }
                #expect(cam.pipeline.m4f.statistics.deliveredBytes > 0)
            }
        }

        @Test func deletingAStreamEndsItsLiveResponsesCleanly() async throws {
            try await withNode(streams: []) { node, port in
                let put = try await httpSend(
                    .PUT, "http://127.0.0.1:\(port)/streamer/api/v3/streams/cam",
                    json: #"{"name": "cam", "inputs": [{"url": "fake://cam"}]}"#)
                #expect(put.status == 200, "\(put.body)")
                try await waitUntil("cam configured") { node.manager.stream(named: "cam") != nil }
                let cam = try #require(node.manager.stream(named: "cam"))
                try await waitUntil("cam alive") { cam.isAlive }
                let outcomes = try await withThrowingTaskGroup(of: Int.self) { group in
                    for output in ["m4f", "mpegts", "m4f"] {
                        group.addTask {
                            let response = try await HTTPClient.shared.execute(
                                HTTPClientRequest(url: "http://127.0.0.1:\(port)/cam/\(output)"), timeout: .seconds(30))
                            #expect(response.status == .ok)
                            var received = 0
                            // Ends without an error only if the node ended the chunked body properly.
                            for try await bytes in response.body { received += bytes.readableBytes }
                            return received
                        }
                    }
                    try await waitUntil("three clients") {
                        cam.pipeline.m4f.statistics.readers == 2 && cam.pipeline.mpegts.statistics.readers == 1
                    }
                    try await waitUntil("some bytes delivered") { cam.pipeline.m4f.statistics.deliveredBytes > 100_000 }
                    let (_, status) = try await httpSend(.DELETE, "http://127.0.0.1:\(port)/streamer/api/v3/streams/cam")
                    #expect(status == 204)
                    var received: [Int] = []
                    for try await count in group { received.append(count) }
                    return received
                }
                #expect(outcomes.count == 3 && outcomes.allSatisfy { $0 > 0 }, "bytes per client: \(outcomes)")
                #expect(node.liveFanoutCount == 0)
            }
        }

        @Test func anUnwatchedStreamPackagesNothingAndAJoiningReaderStartsAtTheLastKeyframe() async throws {
            try await withNode(streams: [stream("cam", "fake://cam")]) { node, port in
                let pipeline = try #require(node.manager.stream(named: "cam")?.pipeline)
                // Five seconds of media: more than two HLS segments and many TS chunks' worth.
                try await waitUntil("5 s of media") { pipeline.statistics.framesIn >= 5 * (25 + 47) }
                #expect(pipeline.hlsPlaylist() == nil, "HLS was packaged with no HLS request")
                #expect(pipeline.mpegts.statistics.publishedItems == 0, "MPEG-TS was packaged with no reader")
                #expect(pipeline.m4f.statistics.publishedItems == 1, "M4F was packaged with no reader (only the init is expected)")

                // An M4F reader joining starts at once with the GOP in progress (its keyframe came before the
                // request), not at the next keyframe, and the kept GOP meets the live frames with nothing lost or
                // repeated. A keyframe can fall between the request and the reader's arrival (then the kept GOP
                // starts after the request): up to three readers, each once the stream is idle again.
                var startedBeforeRequest = false
                for _ in 1...3 where !startedBeforeRequest {
                    try await waitUntil("M4F idle") { !pipeline.isPackagingM4F }
                    let requested = Int64(Date().timeIntervalSince1970 * 1_000_000)
                    let read = try await readM4F(url: "http://127.0.0.1:\(port)/cam/m4f") { _, fragments, _ in fragments.count >= 15 }
                    let first = try #require(read.fragments.first)
                    let video = read.fragments.flatMap(\.frames).filter { $0.codec.isVideo }
                    #expect(video.first?.isKeyframe == true)
                    let steps = zip(video, video.dropFirst()).map { $1.dts - $0.dts }
                    let shortest = try #require(steps.min())
                    #expect(shortest > 0 && steps.allSatisfy { $0 * 2 < shortest * 3 }, "video frames lost or repeated: DTS steps \(steps)")
                    startedBeforeRequest = first.wallClockMicros < requested
                }
                #expect(startedBeforeRequest, "every reader's first fragment began after its request")
                #expect(pipeline.m4f.statistics.publishedItems > 1)

                // An MPEG-TS reader starts TS packaging; its first bytes are PAT/PMT then a keyframe.
                let response = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: "http://127.0.0.1:\(port)/cam/mpegts"), timeout: .seconds(10))
                var body = response.body.makeAsyncIterator()
                let firstBytes = try #require(try await body.next())
                #expect(firstBytes.getInteger(at: firstBytes.readerIndex, as: UInt8.self) == 0x47)
                try await waitUntil("TS packaged for the reader") { pipeline.mpegts.statistics.publishedItems > 0 }
                #expect(pipeline.hlsPlaylist() == nil)
            }
        }

        @Test func unknownStreamAnswers404JSON() async throws {
            try await withNode(streams: []) { _, port in
                for path in ["/nothing/m4f", "/nothing/index.m3u8", "/nothing/mpegts", "/streamer/api/v3/streams/nothing"] {
                    let (body, status) = try await httpGet("http://127.0.0.1:\(port)\(path)")
                    #expect(status == 404, "\(path)")
                    let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: String]
                    #expect(json?["error"] == "stream_not_found", "\(path): \(body)")
                    #expect(json?["detail"]?.contains("nothing") == true)
                }
                let (health, healthStatus) = try await httpGet("http://127.0.0.1:\(port)/healthz")
                #expect(healthStatus == 200 && health.hasPrefix("ok"))
            }
        }

        @Test func apiAndMetricsShowLiveStats() async throws {
            try await withNode(streams: [stream("cam", "fake://cam")]) { node, port in
                try await waitUntil("cam alive with bitrate") {
                    (node.manager.stream(named: "cam")?.pipeline.statistics.inputBitsPerSecond ?? 0) > 0
                }
                let (body, status) = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/streams/cam")
                #expect(status == 200)
                let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
                let stats = try #require(json["stats"] as? [String: Any])
                #expect(stats["alive"] as? Bool == true)
                let bitrate = try #require(stats["input_bitrate"] as? Int)
                #expect((1_500_000...4_500_000).contains(bitrate), "the test clip is about 2.5 Mbit/s, API says \(bitrate)")
                let tracks = try #require(stats["tracks"] as? [[String: Any]])
                #expect(tracks.map { $0["codec"] as? String } == ["h264", "aac"])
                let (metrics, metricsStatus) = try await httpGet("http://127.0.0.1:\(port)/metrics")
                #expect(metricsStatus == 200)
                #expect(metrics.contains("estuary_stream_input_bytes_total{stream=\"cam\"}"))
                #expect(metrics.contains("estuary_stream_alive{stream=\"cam\"} 1"))
            }
        }
    }
}
