import EstuaryConfig
import EstuaryLive
import EstuaryMP4
import EstuaryMedia
import EstuaryNode
import EstuarySources
import EstuaryTestSupport
import Foundation
import Hummingbird
import Testing

extension IntegrationTests {
    /// `hls://` pull: from a node's own fMP4 HLS output, and from MPEG-TS HLS that ffmpeg writes, behind a master playlist.
    @Suite(.serialized) struct HLSPullTests {
        /// Reads the relay's M4F output and checks continuous 25 fps video and AAC audio.
        func expectContinuous(_ url: String, videoFrames: Int) async throws {
            let result = try await readM4F(url: url, timeout: .seconds(30)) { _, fragments, _ in
                fragments.reduce(0) { $0 + $1.frames.filter { $0.codec.isVideo }.count } >= videoFrames
            }
            #expect(result.tracks.map(\.codec) == [.h264, .aac])
            let video = result.fragments.flatMap(\.frames).filter { $0.codec.isVideo }
            try #require(video.count >= videoFrames, "\(video.count) video frames")
            #expect(video[0].isKeyframe)
            for pair in zip(video, video.dropFirst()) {
                #expect(pair.1.dts - pair.0.dts == 3_600, "25 fps across segment boundaries, at \(pair.0.dts)")
            }
            #expect(result.fragments.flatMap(\.frames).contains { !$0.codec.isVideo })
        }

        @Test func pullsANodesFMP4HLSOutput() async throws {
            let port = try await freeTCPPort()
            let streams = [
                stream("cam", "fake://cam"),
                StreamConfig(name: "relay", inputs: [InputConfig(url: "hls://127.0.0.1:\(port)/cam/index.m3u8")]),
            ]
            try await withNode(streams: streams, options: { $0.httpPort = port }) { node, port in
                try await waitUntil("the relay is alive", timeout: .seconds(30)) { node.manager.stream(named: "relay")?.isAlive == true }
                try await expectContinuous("http://127.0.0.1:\(port)/relay/m4f", videoFrames: 100)
                #expect(node.manager.stream(named: "relay")?.inputStatus.snapshot.inputErrors == 0)
            }
        }

        /// ffmpeg writes live HLS (MPEG-TS or fMP4 segments) behind a master playlist whose first variant is missing;
        /// when ffmpeg stops, the playlist stops updating and the input times out.
        @Test(.enabled(if: FFmpegTool.enabled), arguments: ["mpegts", "fmp4"])
        func pullsFFmpegHLSThroughAMasterPlaylist(_ segmentType: String) async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await PublishTests.makeClip(in: directory)
                let live = directory.appendingPathComponent("live")
                try FileManager.default.createDirectory(at: live, withIntermediateDirectories: true)
                let master = """
                    #EXTM3U
                    #EXT-X-STREAM-INF:BANDWIDTH=100000,RESOLUTION=160x120
                    missing/index.m3u8
                    #EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=320x240
                    live/index.m3u8

                    """
                try master.write(to: directory.appendingPathComponent("master.m3u8"), atomically: true, encoding: .utf8)
                let ffmpeg = try FFmpegTool.start(
                    "ffmpeg",
                    [
                        "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-c", "copy",
                    ] + (segmentType == "fmp4" ? ["-bsf:a", "aac_adtstoasc"] : []) + [
                        "-f", "hls", "-hls_time", "1",
                        "-hls_list_size", "5", "-hls_segment_type", segmentType,
                        "-hls_flags", "delete_segments+omit_endlist", live.appendingPathComponent("index.m3u8").path,
                    ])
                defer { if ffmpeg.isRunning { ffmpeg.terminate() } }
                let filePort = try await freeTCPPort()
                let router = Router()
                router.middlewares.add(FileMiddleware(directory.path, searchForIndexHtml: false))
                let files = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: filePort)))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await files.runService() }
                    defer { group.cancelAll() }
                    let relay = StreamConfig(
                        name: "relay", inputs: [InputConfig(url: "hls://127.0.0.1:\(filePort)/master.m3u8", sourceTimeout: 5)])
                    try await withNode(streams: [relay]) { node, port in
                        try await waitUntil("the relay is alive", timeout: .seconds(30)) {
                            node.manager.stream(named: "relay")?.isAlive == true
                        }
                        try await expectContinuous("http://127.0.0.1:\(port)/relay/m4f", videoFrames: 75)
                        let summary = try await FFmpegTool.probe("http://127.0.0.1:\(port)/relay/mpegts", readSeconds: 2)
                        #expect(summary.first { $0.codec == "h264" }?.width == 320)
                        // The writer dies (SIGKILL: no trailer); its playlist stays, without #EXT-X-ENDLIST, and no longer changes.
                        kill(ffmpeg.processIdentifier, SIGKILL)
                        ffmpeg.waitUntilExit()
                        try await waitUntil("the stale playlist times the input out", timeout: .seconds(20)) {
                            node.manager.stream(named: "relay")?.inputStatus.snapshot.lastErrorReason == "timeout"
                        }
                        // A reconnect continues after the last segment read: the stale tail is not played again.
                        let frames = node.manager.stream(named: "relay")?.pipeline.statistics.framesIn ?? 0
                        let attempts = node.manager.stream(named: "relay")?.inputStatus.snapshot.reconnects ?? 0
                        try await waitUntil("another attempt times out", timeout: .seconds(20)) {
                            (node.manager.stream(named: "relay")?.inputStatus.snapshot.reconnects ?? 0) > attempts
                                && node.manager.stream(named: "relay")?.inputStatus.snapshot.lastErrorReason == "timeout"
                        }
                        #expect(node.manager.stream(named: "relay")?.pipeline.statistics.framesIn == frames)
                    }
                }
            }
        }

        @Test func hlsInputsDefaultToA180SecondSourceTimeout() throws {
            let config = try NodeConfig.load(
                yaml: """
                    streams:
                      - {name: a, inputs: ["hls://h/x.m3u8"]}
                      - {name: b, inputs: [{url: "hlss://h/x.m3u8"}]}
                      - {name: c, inputs: ["fake://c"]}
                    """)
            let timeouts = config.config.streams.sorted { $0.name < $1.name }.map { $0.inputs[0].sourceTimeout }
            #expect(timeouts == [180, 180, 10])
        }
    }
}
