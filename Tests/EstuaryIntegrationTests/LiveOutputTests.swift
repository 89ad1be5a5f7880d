import AsyncHTTPClient
import EstuaryConfig
import EstuaryHub
import EstuaryLive
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

        @Test func anUnwatchedStreamPackagesNeitherHLSNorMPEGTS() async throws {
            try await withNode(streams: [stream("cam", "fake://cam")]) { node, port in
                let pipeline = try #require(node.manager.stream(named: "cam")?.pipeline)
                // Five seconds of media: more than two HLS segments and many TS chunks' worth.
                try await waitUntil("5 s of media") { pipeline.statistics.framesIn >= 5 * (25 + 47) }
                #expect(pipeline.hlsPlaylist() == nil, "HLS was packaged with no HLS request")
                #expect(pipeline.mpegts.statistics.publishedItems == 0, "MPEG-TS was packaged with no reader")
                #expect(pipeline.m4f.statistics.publishedItems > 0)

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
