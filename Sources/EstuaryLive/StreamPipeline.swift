import EstuaryHub
import EstuaryMedia
import NIOCore
import Synchronization

/// Everything one live stream's frames go through after their source: timestamp
/// normalisation, then the M4F, MPEG-TS and HLS packagers whose outputs readers take.
///
/// A single source task calls ``setTracks(_:)``, ``push(_:)`` and ``flush()``; any number of
/// tasks may read the hubs, the HLS window and the statistics at the same time.
public final class StreamPipeline: MediaSink {
    struct Packaging {
        var normalizer = TimestampNormalizer()
        var m4f = M4FPackager()
        var ts = TSPackager()
        var tracks: [TrackInfo] = []
    }

    public let name: String
    /// The live M4F output (header = the current init segment).
    public let m4f: StreamHub<LiveChunk>
    /// The live MPEG-TS output (header = PAT+PMT).
    public let mpegts: StreamHub<LiveChunk>
    private let packaging = Mutex(Packaging())
    private let hls: Mutex<HLSPlaylist>
    private let stats = Mutex(StreamStatistics())
    private let bitrateWindow = Mutex((start: Int64(0), bytes: Int64(0)))

    public init(name: String, limits: HubLimits = HubLimits(), hlsWindow: Int = 6) {
        self.name = name
        self.m4f = StreamHub(limits: limits)
        self.mpegts = StreamHub(limits: limits)
        self.hls = Mutex(HLSPlaylist(windowSize: hlsWindow))
    }

    /// Declares the source's tracks (call again when codec parameters change).
    public func setTracks(_ tracks: [TrackInfo]) {
        let chunks = packaging.withLock { state -> (LiveChunk?, LiveChunk?) in
            guard tracks.sorted(by: { $0.id < $1.id }) != state.tracks else { return (nil, nil) }
            state.tracks = tracks.sorted { $0.id < $1.id }
            let m4f = state.m4f.flush()
            if let m4f { deliverM4F(m4f) }
            return (state.m4f.setTracks(tracks), state.ts.setTracks(tracks))
        }
        stats.withLock { $0.tracks = tracks.sorted { $0.id < $1.id } }
        if let header = chunks.0 {
            m4f.setHeader(header)
            m4f.publish(header)
            hls.withLock { _ = $0.add(header) }
        }
        if let header = chunks.1 {
            mpegts.setHeader(header)
        }
    }

    /// Adds one frame from the source.
    public func push(_ frame: MediaFrame) {
        let now = frame.wallClockMicros
        stats.withLock { stats in
            stats.framesIn += 1
            stats.bytesIn += UInt64(frame.data.readableBytes)
            stats.lastFrameMicros = now
        }
        let rate = bitrateWindow.withLock { window -> Int64? in
            if window.start == 0 { window.start = now }
            window.bytes += Int64(frame.data.readableBytes)
            let elapsed = now - window.start
            guard elapsed >= 1_000_000 else { return nil }
            let rate = window.bytes * 8 * 1_000_000 / elapsed
            window = (now, 0)
            return rate
        }
        if let rate { stats.withLock { $0.inputBitsPerSecond = rate } }
        let output = packaging.withLock { state -> (LiveChunk?, LiveChunk?) in
            guard let normalized = state.normalizer.normalize(frame) else { return (nil, nil) }
            return (state.m4f.push(normalized), state.ts.push(normalized))
        }
        if let chunk = output.0 { deliverM4F(chunk) }
        if let chunk = output.1 { mpegts.publish(chunk) }
    }

    /// Completes the fragments in progress (the source reached a natural boundary, e.g. the
    /// end of an upstream M4F fragment), so relayed streams add no latency of their own.
    public func flush() {
        let output = packaging.withLock { state in (state.m4f.flush(), state.ts.flush()) }
        if let chunk = output.0 { deliverM4F(chunk) }
        if let chunk = output.1 { mpegts.publish(chunk) }
    }

    /// Marks a source switch: the timeline is re-based at the next frame.
    public func discontinuity() {
        packaging.withLock { $0.normalizer.discontinuity() }
    }

    /// Ends every reader's stream.
    public func finish() {
        flush()
        hls.withLock { _ = $0.closeCurrent() }
        m4f.finish()
        mpegts.finish()
    }

    private func deliverM4F(_ chunk: LiveChunk) {
        m4f.publish(chunk)
        hls.withLock { _ = $0.add(chunk) }
    }

    /// A snapshot of the stream's statistics.
    public var statistics: StreamStatistics {
        var snapshot = stats.withLock { $0 }
        let normalizer = packaging.withLock { $0.normalizer }
        snapshot.timestampDiscontinuities = normalizer.discontinuities
        snapshot.droppedFrames = normalizer.droppedFrames
        return snapshot
    }

    /// The HLS media playlist, or nil before the first segment is complete.
    public func hlsPlaylist() -> String? { hls.withLock { $0.playlist() } }

    /// An HLS media segment by sequence number.
    public func hlsSegment(_ sequence: Int) -> ByteBuffer? { hls.withLock { $0.segment(sequence)?.bytes } }

    /// An HLS init segment by version.
    public func hlsInit(_ version: Int) -> ByteBuffer? { hls.withLock { $0.initSegments[version] } }
}
