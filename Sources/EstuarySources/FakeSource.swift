import EstuaryMedia
import NIOCore

/// `fake://NAME`: the built-in test stream, paced in real time, looped with continuous
/// timestamps, each frame stamped with the wall-clock time it is released.
public struct FakeSource: MediaSource {
    public let displayURL: String
    let clip: FakeClip

    public init(url: String, clip: FakeClip) {
        self.displayURL = url
        self.clip = clip
    }

    public func run(into sink: some MediaSink) async throws {
        sink.setTracks(clip.tracks)
        let clock = ContinuousClock()
        let start = clock.now
        let wallStart = WallClock.nowMicros()
        var loop: Int64 = 0
        while !Task.isCancelled {
            for frame in clip.frames {
                let offset = loop * clip.period + frame.dts
                let due = start.advanced(by: .microseconds(offset * 1_000_000 / mediaTimescale))
                if due > clock.now {
                    do { try await Task.sleep(until: due, tolerance: .milliseconds(2), clock: clock) } catch { return }
                }
                var out = frame
                out.dts += loop * clip.period
                out.pts += loop * clip.period
                out.wallClockMicros = wallStart + offset * 1_000_000 / mediaTimescale
                sink.push(out)
            }
            loop += 1
        }
    }
}
