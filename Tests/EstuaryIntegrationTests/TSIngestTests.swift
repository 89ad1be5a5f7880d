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
    /// ffmpeg feeds MPEG-TS into a node over UDP and over HTTP; the node's M4F output must carry
    /// every frame, in order, with timestamps continuous across the 33-bit PTS/PCR wrap.
    @Suite(.serialized) struct TSIngestTests {
        /// A 6 s clip whose timestamps wrap past 2^33 about 2 s in.
        struct Clip {
            var path: String
            /// Video (dts, pts) in file order, unwrapped, on the 90 kHz clock.
            var video: [(dts: Int64, pts: Int64)]
            var audioCount: Int
        }

        static func makeClip(in directory: URL) async throws -> Clip {
            let path = directory.appendingPathComponent("clip.ts").path
            let wrapOffset = String(Double(1 << 33) / 90_000 - 4)
            _ = try await FFmpegTool.run(
                "ffmpeg",
                [
                    "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "2",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-output_ts_offset", wrapOffset, "-f", "mpegts", path,
                ], timeout: .seconds(60))
            let packets = String(
                decoding: try await FFmpegTool.run(
                    "ffprobe", ["-v", "error", "-select_streams", "v", "-show_entries", "packet=dts,pts", "-of", "csv=p=0", path],
                    timeout: .seconds(60)),
                as: UTF8.self)
            var video: [(Int64, Int64)] = []
            var wrap: Int64 = 0
            var lastDTS: Int64?
            for line in packets.split(separator: "\n") {
                let fields = line.split(separator: ",").compactMap { Int64($0) }
                guard fields.count == 2 else { continue }
                var (pts, dts) = (fields[0], fields[1])
                if let lastDTS, dts + wrap < lastDTS - (1 << 32) { wrap += 1 << 33 }
                dts += wrap
                pts += wrap
                if pts < dts - (1 << 32) { pts += 1 << 33 }
                lastDTS = dts
                video.append((dts, pts))
            }
            let audio = String(
                decoding: try await FFmpegTool.run(
                    "ffprobe",
                    [
                        "-v", "error", "-select_streams", "a", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of",
                        "csv=p=0",
                        path,
                    ], timeout: .seconds(60)),
                as: UTF8.self)
            #expect(video.count == 150, "6 s at 25 fps")
            return Clip(path: path, video: video, audioCount: Int(audio.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
        }

        /// Reads the node's M4F output while `feed` sends the clip twice, then checks the first pass.
        func verify(clip: Clip, node: Node, port: Int, streamName: String, feed: @Sendable () throws -> Process) async throws {
            let url = "http://127.0.0.1:\(port)/\(streamName)/m4f"
            let needed = clip.video.count + 30
            try await withThrowingTaskGroup(of: (tracks: [TrackInfo], fragments: [M4FFragment], arrivals: [Int64]).self) { group in
                group.addTask {
                    try await readM4F(url: url, timeout: .seconds(40)) { _, fragments, _ in
                        fragments.reduce(0) { $0 + $1.frames.filter { $0.codec.isVideo }.count } >= needed
                    }
                }
                try await waitUntil("a reader is attached") {
                    (node.manager.stream(named: streamName)?.pipeline.m4f.statistics.readers ?? 0) > 0
                }
                let ffmpeg = try feed()
                defer { if ffmpeg.isRunning { ffmpeg.terminate() } }
                let result = try #require(try await group.next())
                group.cancelAll()
                let video = result.fragments.flatMap(\.frames).filter { $0.codec.isVideo }
                let audio = result.fragments.flatMap(\.frames).filter { !$0.codec.isVideo }
                #expect(result.tracks.map(\.codec) == [.h264, .aac])
                try #require(video.count >= clip.video.count, "got \(video.count) video frames, the clip has \(clip.video.count)")
                #expect(video[0].isKeyframe)
                // Every frame of the first pass, in order, with the clip's exact timestamp steps.
                let base = (out: video[0].dts, clip: clip.video[0].dts)
                for index in 0..<clip.video.count {
                    #expect(video[index].dts - base.out == clip.video[index].dts - base.clip, "video frame \(index): dts")
                    #expect(video[index].pts - base.out == clip.video[index].pts - base.clip, "video frame \(index): pts")
                }
                // Audio is continuous (one AAC frame = 1920 ticks at 48 kHz) through the wrap.
                let firstPassEnd = base.out + (clip.video.last!.dts - base.clip)
                let firstPassAudio = audio.filter { $0.dts <= firstPassEnd }
                #expect(firstPassAudio.count >= clip.audioCount - 15, "\(firstPassAudio.count) of \(clip.audioCount) audio frames")
                for pair in zip(firstPassAudio, firstPassAudio.dropFirst()) {
                    #expect(pair.1.dts - pair.0.dts == 1920, "audio gap at \(pair.0.dts)")
                }
            }
        }

        /// How ffmpeg hands the clip to the node.
        enum Transport: String, CaseIterable, Sendable {
            /// ffmpeg sends datagrams; the node listens on `udp://`.
            case udp
            /// ffmpeg serves an endless HTTP body; the node pulls `tshttp://` (retrying until it listens).
            case http
        }

        @Test(.enabled(if: FFmpegTool.enabled), arguments: Transport.allCases)
        func ingestCarriesEveryFrameAcrossTheWrap(_ transport: Transport) async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await Self.makeClip(in: directory)
                let input: String
                let output: [String]
                switch transport {
                case .udp:
                    let port = try await freeUDPPort()
                    input = "udp://127.0.0.1:\(port)"
                    output = ["udp://127.0.0.1:\(port)?pkt_size=1316"]
                case .http:
                    let port = try await freeTCPPort()
                    input = "tshttp://127.0.0.1:\(port)/live.ts"
                    output = ["-listen", "1", "http://127.0.0.1:\(port)/live.ts"]
                }
                let name = "\(transport.rawValue)cam"
                try await withNode(streams: [stream(name, input, timeout: 20)]) { node, port in
                    try await verify(clip: clip, node: node, port: port, streamName: name) {
                        try FFmpegTool.start(
                            "ffmpeg",
                            ["-v", "error", "-re", "-stream_loop", "1", "-i", clip.path, "-c", "copy", "-copyts", "-f", "mpegts"] + output)
                    }
                }
            }
        }
    }
}
