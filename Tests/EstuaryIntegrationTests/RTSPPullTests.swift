import EstuaryConfig
import EstuaryLive
import EstuaryMP4
import EstuaryMedia
import EstuaryNode
import EstuarySources
import EstuaryTestSupport
import Foundation
import Testing

/// A real RTSP server for the tests: GStreamer's gst-rtsp-server, driven by `Tests/Scripts/rtsp-server.py`
/// with Debian's python3 (packages python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/-bad).
struct RTSPTestServer {
    static let python = "/usr/bin/python3"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Scripts/rtsp-server.py").path
    /// Whether GStreamer's RTSP server can run here; `ESTUARY_REQUIRE_RTSP=1` (CI) makes the tests fail instead of skip.
    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
    static let enabled = (available && FFmpegTool.available) || ProcessInfo.processInfo.environment["ESTUARY_REQUIRE_RTSP"] == "1"

    let process: Process
    let port: Int

    /// Starts the server on `port` serving `file` at `/cam`, and waits until it listens.
    static func start(
        port: Int, file: String, video: String = "h264", user: String? = nil, password: String? = nil, digest: Bool = false
    ) async throws -> RTSPTestServer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        var arguments = [script, "\(port)", file, "--video", video]
        if let user, let password { arguments += ["--user", user, "--password", password] }
        if digest { arguments.append("--digest") }
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let server = RTSPTestServer(process: process, port: port)
        do {
            try await waitUntil("the RTSP server listens", timeout: .seconds(20)) {
                guard process.isRunning else { throw TestFailure("rtsp-server.py exited with \(process.terminationStatus)") }
                return (try? await freeTCPPortIsTaken(port)) == true
            }
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Ends the server: SIGTERM, then SIGKILL if it is still there after 5 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Whether something listens on 127.0.0.1:`port`.
func freeTCPPortIsTaken(_ port: Int) async throws -> Bool {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return result == 0
}

extension IntegrationTests {
    /// `rtsp://` pull against GStreamer's RTSP server: TCP interleaved with Digest, UDP, wrong credentials, server restart.
    @Suite(.serialized) struct RTSPPullTests {
        /// A 30 s 320x240 25 fps H.264 or H.265 (`codec` libx265; with `bframes` B-frames) + AAC clip.
        static func makeClip(in directory: URL, bframes: Int, codec: String = "libx264") async throws -> String {
            let path = directory.appendingPathComponent("rtsp-\(codec)-\(bframes).ts").path
            let video =
                codec == "libx265"
                ? ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:bframes=\(bframes):log-level=error"]
                : ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "\(bframes)"]
            _ = try await FFmpegTool.run(
                "ffmpeg",
                [
                    "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100", "-t", "30",
                ] + video + ["-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts", path], timeout: .seconds(120))
            return path
        }

        /// Reads the stream's M4F output and checks 25 fps video with increasing decode times and AAC audio.
        func expectPlayable(port: Int, name: String, video codec: Codec = .h264) async throws {
            let result = try await readM4F(url: "http://127.0.0.1:\(port)/\(name)/m4f", timeout: .seconds(20)) { _, fragments, _ in
                fragments.reduce(0) { $0 + $1.frames.filter { $0.codec.isVideo }.count } >= 50
            }
            #expect(result.tracks.map(\.codec) == [codec, .aac])
            let video = result.fragments.flatMap(\.frames).filter { $0.codec.isVideo }
            try #require(video.count >= 50)
            #expect(video[0].isKeyframe)
            for pair in zip(video, video.dropFirst()) {
                #expect(pair.1.dts - pair.0.dts == 3_600, "25 fps decode steps at \(pair.0.dts)")
            }
            for frame in video { #expect(frame.pts >= frame.dts) }
            #expect(result.fragments.flatMap(\.frames).contains { $0.codec == .aac })
            // ffmpeg, the independent decoder, reads 3 s of the M4F output without a single error (-xerror).
            _ = try await FFmpegTool.run(
                "ffmpeg", ["-v", "error", "-xerror", "-i", "http://127.0.0.1:\(port)/\(name)/m4f", "-t", "3", "-f", "null", "-"],
                timeout: .seconds(30))
        }

        @Test(.enabled(if: RTSPTestServer.enabled))
        func h265OverUDPWithDigestAndBFrames() async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await Self.makeClip(in: directory, bframes: 2, codec: "libx265")
                let rtspPort = try await freeTCPPort()
                let server = try await RTSPTestServer.start(
                    port: rtspPort, file: clip, video: "h265", user: "cam", password: "pw", digest: true)
                defer { server.stop() }
                let streams = [stream("hevc", "rtsp://cam:pw@127.0.0.1:\(rtspPort)/cam?transport=udp", timeout: 5)]
                try await withNode(streams: streams) { node, port in
                    try await waitUntil("hevc is alive", timeout: .seconds(20)) { node.manager.stream(named: "hevc")?.isAlive == true }
                    try await expectPlayable(port: port, name: "hevc", video: .h265)
                }
            }
        }

        @Test(.enabled(if: RTSPTestServer.enabled))
        func tcpInterleavedWithDigestAndBFrames() async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await Self.makeClip(in: directory, bframes: 2)
                let rtspPort = try await freeTCPPort()
                let server = try await RTSPTestServer.start(port: rtspPort, file: clip, user: "admin", password: "s3cret", digest: true)
                defer { server.stop() }
                let streams = [stream("cam", "rtsp://admin:s3cret@127.0.0.1:\(rtspPort)/cam", timeout: 5)]
                try await withNode(streams: streams) { node, port in
                    try await waitUntil("cam is alive", timeout: .seconds(20)) { node.manager.stream(named: "cam")?.isAlive == true }
                    try await expectPlayable(port: port, name: "cam")
                    let summary = try await FFmpegTool.probe("http://127.0.0.1:\(port)/cam/mpegts", readSeconds: 2)
                    #expect(summary.first { $0.codec == "h264" }?.width == 320)
                    #expect(node.manager.stream(named: "cam")?.inputStatus.snapshot.inputErrors == 0)
                }
            }
        }

        @Test(.enabled(if: RTSPTestServer.enabled))
        func udpTransport() async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await Self.makeClip(in: directory, bframes: 0)
                let rtspPort = try await freeTCPPort()
                let server = try await RTSPTestServer.start(port: rtspPort, file: clip)
                defer { server.stop() }
                try await withNode(streams: [stream("cam", "rtsp://127.0.0.1:\(rtspPort)/cam?transport=udp", timeout: 5)]) { node, port in
                    try await waitUntil("cam is alive", timeout: .seconds(20)) { node.manager.stream(named: "cam")?.isAlive == true }
                    try await expectPlayable(port: port, name: "cam")
                }
            }
        }

        @Test(.enabled(if: RTSPTestServer.enabled))
        func wrongCredentialsAreReportedAndAServerRestartIsSurvived() async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await Self.makeClip(in: directory, bframes: 0)
                let rtspPort = try await freeTCPPort()
                var server = try await RTSPTestServer.start(port: rtspPort, file: clip, user: "admin", password: "right", digest: true)
                defer { server.stop() }
                let streams = [
                    stream("wrong", "rtsp://admin:wrong@127.0.0.1:\(rtspPort)/cam", timeout: 5),
                    stream("cam", "rtsp://admin:right@127.0.0.1:\(rtspPort)/cam", timeout: 3),
                ]
                try await withNode(streams: streams) { node, port in
                    try await waitUntil("the refusal is reported") {
                        node.manager.stream(named: "wrong")?.inputStatus.snapshot.lastErrorReason == "unauthorized"
                    }
                    let report = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/streams/wrong").body
                    #expect(!report.contains("wrong@"), "credentials are masked: \(report)")
                    #expect(node.manager.stream(named: "wrong")?.pipeline.statistics.framesIn == 0)

                    try await waitUntil("cam is alive", timeout: .seconds(20)) { node.manager.stream(named: "cam")?.isAlive == true }
                    let reconnects = node.manager.stream(named: "cam")?.inputStatus.snapshot.reconnects ?? 0
                    server.stop()
                    try await waitUntil("the outage is noticed") { node.manager.stream(named: "cam")?.isAlive == false }
                    server = try await RTSPTestServer.start(port: rtspPort, file: clip, user: "admin", password: "right", digest: true)
                    try await waitUntil("cam plays again", timeout: .seconds(30)) { node.manager.stream(named: "cam")?.isAlive == true }
                    #expect((node.manager.stream(named: "cam")?.inputStatus.snapshot.reconnects ?? 0) > reconnects)
                    try await expectPlayable(port: port, name: "cam")
                }
            }
        }
    }
}
