import EstuaryClusterAuth
import EstuaryConfig
import EstuaryLive
import EstuaryMP4
import EstuaryMedia
import EstuaryNode
import EstuarySidecar
import EstuarySources
import EstuaryTestSupport
import Foundation
import Testing

extension IntegrationTests {
    /// Publishers: ffmpeg publishing RTMP into a node's `publish://` input, and one node pushing M4F to another.
    @Suite(.serialized) struct PublishTests {
        /// A 4 s H.264 (25 fps, B-frames) + AAC clip in MPEG-TS, for ffmpeg to publish.
        static func makeClip(in directory: URL) async throws -> String {
            let path = directory.appendingPathComponent("publish.ts").path
            _ = try await FFmpegTool.run(
                "ffmpeg",
                [
                    "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "2",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts", path,
                ], timeout: .seconds(60))
            return path
        }

        static func publish(_ clip: String, to url: String, loops: Int = -1) throws -> Process {
            try FFmpegTool.start("ffmpeg", ["-v", "error", "-re", "-stream_loop", "\(loops)", "-i", clip, "-c", "copy", "-f", "flv", url])
        }

        func publishStream(_ name: String, password: String? = nil, replace: Bool = false) -> StreamConfig {
            StreamConfig(
                name: name, inputs: [InputConfig(url: replace ? "publish://?replace=true" : "publish://", sourceTimeout: 5)],
                password: password)
        }

        /// Waits for a process to exit and returns its status, or nil if it still runs at the deadline.
        func exitStatus(_ process: Process, within timeout: Duration = .seconds(15)) async throws -> Int32? {
            do {
                try await waitUntil("ffmpeg exits", timeout: timeout) { !process.isRunning }
            } catch {
                return nil
            }
            return process.terminationStatus
        }

        @Test(.enabled(if: FFmpegTool.enabled))
        func rtmpPublishFromFFmpegPlaysEverywhere() async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await Self.makeClip(in: directory)
                try await withNode(streams: [publishStream("live/cam1", password: "s3cret")], options: { $0.rtmpPort = 0 }) { node, port in
                    try await waitUntil("the RTMP listener is up") { node.rtmpPort != nil }
                    let rtmp = try #require(node.rtmpPort)
                    let ffmpeg = try Self.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/live/cam1?password=s3cret")
                    defer { if ffmpeg.isRunning { ffmpeg.terminate() } }
                    try await waitUntil("the stream is alive") { node.manager.stream(named: "live/cam1")?.isAlive == true }

                    let result = try await readM4F(url: "http://127.0.0.1:\(port)/live/cam1/m4f") { _, fragments, _ in
                        fragments.reduce(0) { $0 + $1.frames.filter { $0.codec.isVideo }.count } >= 50
                    }
                    #expect(result.tracks.map(\.codec) == [.h264, .aac])
                    let video = result.fragments.flatMap(\.frames).filter { $0.codec.isVideo }
                    try #require(video.count >= 50)
                    #expect(video[0].isKeyframe)
                    for pair in zip(video, video.dropFirst()) {
                        #expect(pair.1.dts - pair.0.dts == 3_600, "25 fps decode steps, at \(pair.0.dts)")
                        #expect(pair.1.pts >= pair.1.dts)
                    }
                    #expect(video.contains { $0.pts != $0.dts }, "B-frames keep their composition offsets")

                    // ffprobe, the independent client, decodes what the node serves from the publication.
                    let summary = try await FFmpegTool.probe("http://127.0.0.1:\(port)/live/cam1/mpegts", readSeconds: 2)
                    // (ffprobe lists a TS stream twice: in its program and on its own.)
                    #expect(Set(summary.map(\.codec)) == ["aac", "h264"])
                    #expect((summary.first { $0.codec == "h264" }?.frames ?? 0) >= 25, "\(summary)")
                    #expect(summary.first { $0.codec == "h264" }?.width == 320)

                    let report = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/streams/live/cam1")
                    #expect(report.body.contains("\"publisher\":\"rtmp 127.0.0.1:"), "\(report.body)")
                }
            }
        }

        @Test(.enabled(if: FFmpegTool.enabled))
        func rtmpRefusesWrongPasswordUnknownNameAndSecondPublisher() async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await Self.makeClip(in: directory)
                let streams = [
                    publishStream("live/locked", password: "right"), publishStream("solo"), publishStream("shared", replace: true),
                ]
                try await withNode(streams: streams, options: { $0.rtmpPort = 0 }) { node, _ in
                    try await waitUntil("the RTMP listener is up") { node.rtmpPort != nil }
                    let rtmp = try #require(node.rtmpPort)

                    let wrong = try Self.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/live/locked?password=wrong", loops: 0)
                    defer { if wrong.isRunning { wrong.terminate() } }
                    let wrongStatus = try await exitStatus(wrong)
                    #expect(wrongStatus != nil && wrongStatus != 0, "a wrong password ends the publisher with an error")
                    #expect(node.manager.stream(named: "live/locked")?.pipeline.statistics.framesIn == 0)

                    let unknown = try Self.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/live/nosuch", loops: 0)
                    defer { if unknown.isRunning { unknown.terminate() } }
                    let unknownStatus = try await exitStatus(unknown)
                    #expect(unknownStatus != nil && unknownStatus != 0, "an unknown name is refused")

                    // `solo` (APP "app", NAME "solo": the name alone matches) keeps its first publisher.
                    let first = try Self.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/app/solo")
                    defer { if first.isRunning { first.terminate() } }
                    try await waitUntil("solo is alive") { node.manager.stream(named: "solo")?.isAlive == true }
                    let second = try Self.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/app/solo")
                    defer { if second.isRunning { second.terminate() } }
                    let secondStatus = try await exitStatus(second)
                    #expect(secondStatus != nil && secondStatus != 0, "a second publisher is refused")
                    #expect(first.isRunning, "the first publisher goes on")
                    let before = node.manager.stream(named: "solo")?.pipeline.statistics.framesIn ?? 0
                    try await waitUntil("solo still receives frames") {
                        (node.manager.stream(named: "solo")?.pipeline.statistics.framesIn ?? 0) > before + 25
                    }

                    // `shared` lets a new publisher replace the old one, which is disconnected.
                    let old = try Self.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/live/shared")
                    defer { if old.isRunning { old.terminate() } }
                    try await waitUntil("shared is alive") { node.manager.stream(named: "shared")?.isAlive == true }
                    let new = try Self.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/live/shared")
                    defer { if new.isRunning { new.terminate() } }
                    let oldStatus = try await exitStatus(old, within: .seconds(20))
                    #expect(oldStatus != nil, "the replaced publisher is disconnected")
                    #expect(new.isRunning)
                    try await waitUntil("the new publisher feeds shared") {
                        node.manager.stream(named: "shared")?.isAlive == true && node.publishRegistry.publisher(of: "shared") != nil
                    }
                }
            }
        }

        /// A name no stream configures, covered by a sidecar template with a `publish://` input, is started
        /// for the publisher and kept through the node's next config_external cycles (which re-check it by name).
        @Test(.enabled(if: FFmpegTool.enabled))
        func rtmpPublishToATemplateNameThroughTheSidecarStaysUp() async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await Self.makeClip(in: directory)
                let yaml = directory.appendingPathComponent("central.yaml")
                try """
                streams:
                  - {name: fixed, inputs: [{url: "fake://fixed"}]}
                templates:
                  - {prefix: "live/", inputs: [{url: "publish://"}]}
                """.write(to: yaml, atomically: true, encoding: .utf8)
                let settings = SidecarSettings(
                    listenHost: "127.0.0.1", listenPort: 0, upstream: "file://\(yaml.path)",
                    replicaPath: directory.appendingPathComponent("replica.sqlite").path, identity: SidecarIdentity(hostname: "ingest-0"),
                    nodeURL: "")
                try await withSidecar(settings) { sidecar, sidecarPort in
                    try await withNode(
                        streams: [],
                        options: {
                            $0.hostname = "ingest-0"
                            $0.rtmpPort = 0
                            $0.configExternalOverride = "http://127.0.0.1:\(sidecarPort)/streams"
                        }
                    ) { node, _ in
                        try await waitUntil("the node runs the fixed stream") { node.manager.stream(named: "fixed") != nil }
                        let rtmp = try #require(node.rtmpPort)
                        let ffmpeg = try Self.publish(clip, to: "rtmp://127.0.0.1:\(rtmp)/live/studio")
                        defer { if ffmpeg.isRunning { ffmpeg.terminate() } }
                        try await waitUntil("live/studio is alive") { node.manager.stream(named: "live/studio")?.isAlive == true }
                        let served = sidecar.state.requestsServed
                        try await waitUntil("two more config_external cycles") { sidecar.state.requestsServed >= served + 4 }
                        #expect(node.manager.stream(named: "live/studio")?.isAlive == true, "the cycle keeps the published stream")
                        #expect(ffmpeg.isRunning)
                    }
                }
            }
        }

        @Test func m4fPushReachesAnotherNodeAndReconnects() async throws {
            let key = "push-key"
            let receiverPort = try await freeTCPPort()
            let receiverStreams = [publishStream("pushed")]
            func receiver<T: Sendable>(_ body: (Node, Int) async throws -> T) async throws -> T {
                try await withNode(streams: receiverStreams, clusterKey: key, options: { $0.httpPort = receiverPort }, body)
            }
            var source = StreamConfig(name: "origin", inputs: [InputConfig(url: "fake://origin")])
            source.pushes = [PushConfig(url: "m4f://127.0.0.1:\(receiverPort)/pushed")]
            try await withNode(streams: [source], clusterKey: key) { sender, senderPort in
                try await receiver { node, port in
                    let result = try await readM4F(
                        url: "http://127.0.0.1:\(port)/pushed/m4f",
                        authorization: ClusterAuth(key: key).authorizationHeader(method: "GET", path: "/pushed/m4f")
                    ) { _, fragments, _ in
                        fragments.reduce(0) { $0 + $1.frames.filter { $0.codec.isVideo }.count } >= 30
                    }
                    #expect(result.tracks.map(\.codec) == [.h264, .aac])
                    #expect(result.fragments.flatMap(\.frames).first { $0.codec.isVideo }?.isKeyframe == true)
                    #expect(node.publishRegistry.publisher(of: "pushed")?.origin == "m4f push")
                }
                // The receiver is gone: the push retries, and resumes when a receiver listens again.
                try await waitUntil("the push notices the receiver left") {
                    sender.manager.stream(named: "origin")?.pushStatus.snapshot.first?.errors ?? 0 > 0
                }
                try await receiver { node, _ in
                    try await waitUntil("the push reconnects", timeout: .seconds(30)) {
                        node.manager.stream(named: "pushed")?.isAlive == true
                    }
                }
                let status = try #require(sender.manager.stream(named: "origin")?.pushStatus.snapshot.first)
                #expect(status.connects >= 2)
                #expect(status.bytesSent > 0)
                let report = try await httpGet("http://127.0.0.1:\(senderPort)/streamer/api/v3/streams/origin")
                #expect(report.body.contains("\"pushes\":[{"), "\(report.body)")
            }
        }

        @Test func m4fPushWithWrongKeyOrUnknownStreamIsRefused() async throws {
            let receiverPort = try await freeTCPPort()
            try await withNode(streams: [publishStream("pushed")], clusterKey: "right", options: { $0.httpPort = receiverPort }) {
                node, _ in
                var wrongKey = StreamConfig(name: "a", inputs: [InputConfig(url: "fake://a")])
                wrongKey.pushes = [PushConfig(url: "m4f://127.0.0.1:\(receiverPort)/pushed")]
                var unknown = StreamConfig(name: "b", inputs: [InputConfig(url: "fake://b")])
                unknown.pushes = [PushConfig(url: "m4f://127.0.0.1:\(receiverPort)/nosuch")]
                var unsupported = StreamConfig(name: "c", inputs: [InputConfig(url: "fake://c")])
                unsupported.pushes = [PushConfig(url: "rtmp://127.0.0.1:1/app/c")]
                try await withNode(streams: [wrongKey], clusterKey: "wrong") { sender, _ in
                    try await waitUntil("the refusal is reported") {
                        sender.manager.stream(named: "a")?.pushStatus.snapshot.first?.lastError?.contains("HTTP 401") == true
                    }
                }
                try await withNode(streams: [unknown, unsupported], clusterKey: "right") { sender, _ in
                    try await waitUntil("the unknown stream is reported") {
                        sender.manager.stream(named: "b")?.pushStatus.snapshot.first?.lastError?.contains("HTTP 404") == true
                    }
                    try await waitUntil("the unsupported scheme is reported") {
                        sender.manager.stream(named: "c")?.pushStatus.snapshot.first?.lastError?.contains("only m4f:// and m4fs:// pushes")
                            == true
                    }
                }
                #expect(node.manager.stream(named: "pushed")?.pipeline.statistics.framesIn == 0)
            }
        }
    }
}
