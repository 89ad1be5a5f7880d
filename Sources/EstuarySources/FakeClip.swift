import EstuaryMPEGTS
import EstuaryMedia
import Foundation
import NIOCore

/// The built-in test clip (H.264 High 960×540 25 fps, GOP 2 s, with B-frames; AAC-LC 48 kHz
/// stereo), demuxed once per process and looped by ``FakeSource``.
///
/// The clip's audio is trimmed to the video's span so every loop has the same period and
/// timestamps stay continuous across loops.
public struct FakeClip: Sendable {
    public let tracks: [TrackInfo]
    /// Frames in decode order (tracks interleaved), timestamps starting at 0.
    public let frames: [MediaFrame]
    /// The loop period in 90 kHz ticks.
    public let period: Int64

    /// The shared clip, loaded from the bundled resource.
    public static let shared: Result<FakeClip, SourceError> = {
        guard let url = Bundle.module.url(forResource: "fake", withExtension: "ts"),
            let data = try? Data(contentsOf: url)
        else { return .failure(.invalidURL("fake://", reason: "the bundled test clip fake.ts is missing")) }
        return Result { try FakeClip(transportStream: ByteBuffer(bytes: data)) }.mapError {
            ($0 as? SourceError) ?? .malformedInput(url: "fake://", reason: "\($0)")
        }
    }()

    /// Demuxes an MPEG-TS clip into a loopable frame list.
    public init(transportStream: ByteBuffer) throws(SourceError) {
        var demuxer = TSDemuxer()
        var tracks: [TrackInfo] = []
        var frames: [MediaFrame] = []
        for event in demuxer.feed(transportStream, wallClockMicros: 0) + demuxer.flush() {
            switch event {
            case .tracks(let found): tracks = found
            case .frame(let frame): frames.append(frame)
            case .error: continue
            }
        }
        let video = frames.filter { $0.codec.isVideo }
        guard video.count >= 2, let first = video.first, first.isKeyframe else {
            throw .malformedInput(url: "fake://", reason: "the test clip has no video starting at a keyframe")
        }
        let frameDuration = video[1].dts - video[0].dts
        let start = first.dts
        let period = (video.last?.dts ?? start) + frameDuration - start
        self.tracks = tracks
        self.period = period
        self.frames = frames.compactMap { frame in
            var frame = frame
            frame.dts -= start
            frame.pts -= start
            guard frame.dts >= 0, frame.dts < period else { return nil }
            return frame
        }.sorted { $0.dts < $1.dts }
    }
}
