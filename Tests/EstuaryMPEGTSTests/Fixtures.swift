import EstuaryTestSupport
import Foundation

/// One packet as ffprobe lists it.
struct ProbedPacket: Sendable, Equatable {
    var pts: Int64
    var dts: Int64
    var isKeyframe: Bool
}

/// One stream as ffprobe describes it (frames counted by decoding).
struct ProbedStream: Sendable {
    var codecType: String
    var codecName: String
    var width: Int?
    var height: Int?
    var frameCount: Int
    var packets: [ProbedPacket]
}

/// A TS file made by ffmpeg, with what ffprobe says about it.
struct Clip: Sendable {
    var bytes: [UInt8]
    var video: ProbedStream
    var audio: ProbedStream
}

/// The generated clips. Each is made once per test process (static lets are lazy and
/// thread-safe), in a temporary directory that is removed afterwards.
enum ClipKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// 4 s of 320x240 H.264 (GOP 25, 2 B-frames) at 25 fps and 48 kHz mono AAC.
    case plain
    /// The same, with `-output_ts_offset` 2^33/90 000 − 2 s, so the 33-bit PTS wraps in the
    /// first second of the clip (ffmpeg starts its timestamps 1.4 s in).
    case wrapped
    /// As `plain`, with H.265 video.
    case hevc
    /// As `plain`, with an MP2 audio stream listed before the AAC one (the demuxer ignores it).
    case extraStreams

    var description: String { rawValue }

    func load() throws -> Clip {
        switch self {
        case .plain: try Self.plainClip.get()
        case .wrapped: try Self.wrappedClip.get()
        case .hevc: try Self.hevcClip.get()
        case .extraStreams: try Self.extraStreamsClip.get()
        }
    }

    private static let plainClip = make(videoCodec: ["-c:v", "libx264"], extra: [])
    private static let wrappedClip = make(
        videoCodec: ["-c:v", "libx264"],
        extra: ["-output_ts_offset", String(Double(Int64(1) << 33) / 90_000 - 2)])
    private static let hevcClip = make(
        videoCodec: ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"], extra: [])
    private static let extraStreamsClip = make(
        videoCodec: ["-map", "0:v", "-map", "1:a", "-map", "1:a", "-c:v", "libx264"],
        audioCodec: ["-c:a:0", "mp2", "-c:a:1", "aac"], extra: [])

    private static func make(
        videoCodec: [String], audioCodec: [String] = ["-c:a", "aac"], extra: [String]
    ) -> Result<Clip, FFmpegTool.ToolError> {
        do {
            return .success(
                try withTemporaryDirectory { directory in
                    let path = directory + "/clip.ts"
                    _ = try FFmpegTool.run(
                        "ffmpeg",
                        [
                            "-v", "error", "-nostdin", "-y",
                            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                            "-t", "4",
                        ] + videoCodec + ["-g", "25", "-bf", "2"] + audioCodec + extra + ["-f", "mpegts", path])
                    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
                    let streams = try Probe.streams(path: path)
                    guard let video = streams.first(where: { $0.codecType == "video" }),
                        let audio = streams.first(where: { $0.codecName == "aac" })
                    else {
                        throw FFmpegTool.ToolError(description: "ffprobe did not find video and audio in the clip")
                    }
                    return Clip(bytes: bytes, video: video, audio: audio)
                })
        } catch let error as FFmpegTool.ToolError {
            return .failure(error)
        } catch {
            return .failure(FFmpegTool.ToolError(description: "fixture: \(error)"))
        }
    }
}

/// ffprobe queries.
enum Probe {
    private struct StreamsJSON: Decodable {
        struct Stream: Decodable {
            var index: Int
            var codecType: String?
            var codecName: String?
            var width: Int?
            var height: Int?
            var nbReadFrames: String?
        }
        var streams: [Stream]
    }

    private struct PacketsJSON: Decodable {
        struct Packet: Decodable {
            var streamIndex: Int
            var pts: Int64?
            var dts: Int64?
            var flags: String?
        }
        var packets: [Packet]
    }

    /// The streams of the file at `path`, with decoded-frame counts and packet timestamps.
    static func streams(path: String) throws -> [ProbedStream] {
        let streamData = try FFmpegTool.run(
            "ffprobe",
            [
                "-v", "error", "-count_frames", "-show_entries",
                "stream=index,codec_type,codec_name,width,height,nb_read_frames", "-of", "json", path,
            ])
        let packetData = try FFmpegTool.run(
            "ffprobe", ["-v", "error", "-show_entries", "packet=stream_index,pts,dts,flags", "-of", "json", path])
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let streams = try decoder.decode(StreamsJSON.self, from: streamData).streams
        let packets = try decoder.decode(PacketsJSON.self, from: packetData).packets
        return streams.map { stream in
            ProbedStream(
                codecType: stream.codecType ?? "", codecName: stream.codecName ?? "", width: stream.width,
                height: stream.height, frameCount: Int(stream.nbReadFrames ?? "") ?? -1,
                packets: packets.filter { $0.streamIndex == stream.index }.map { packet in
                    ProbedPacket(
                        pts: packet.pts ?? packet.dts ?? 0, dts: packet.dts ?? packet.pts ?? 0,
                        isKeyframe: packet.flags?.hasPrefix("K") ?? false)
                })
        }
    }

    /// Writes `bytes` to a temporary file and probes it.
    static func streams(of bytes: [UInt8]) throws -> [ProbedStream] {
        try withTemporaryDirectory { directory in
            let path = directory + "/muxed.ts"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return try streams(path: path)
        }
    }
}

/// Runs `body` with a fresh temporary directory (its path), removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let url = try makeTemporaryDirectory(prefix: "estuary-mpegts")
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}
