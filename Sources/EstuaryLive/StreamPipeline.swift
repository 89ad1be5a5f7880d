import EstuaryHub
import EstuaryMedia
import NIOCore
import Synchronization

/// Everything one live stream's frames go through after their source: timestamp
/// normalisation, then the M4F, MPEG-TS and HLS packagers whose outputs readers take.
///
/// M4F is always packaged (other nodes and the recorder read it, and HLS is cut from it).
/// MPEG-TS is packaged only while it has readers, and starts at a keyframe when one joins.
/// HLS is packaged from the first HLS request until none came for ``hlsIdleTimeout``: a stream
/// nobody watches costs one GOP of memory, not an HLS window.
///
/// A single source task calls ``setTracks(_:)``, ``push(_:)`` and ``flush()``; any number of
/// tasks may read the hubs, the HLS window and the statistics at the same time.
public final class StreamPipeline: MediaSink {
    struct Packaging {
        var normalizer = TimestampNormalizer()
        var m4f = M4FPackager()
        var ts = TSPackager()
        var tsActive = false
        var tracks: [TrackInfo] = []
    }

    struct HLSState {
        var playlist: HLSPlaylist
        /// The last HLS request; nil while HLS is not packaged.
        var lastRequest: ContinuousClock.Instant?
    }

    public let name: String
    /// The live M4F output (header = the current init segment).
    public let m4f: StreamHub<LiveChunk>
    /// The live MPEG-TS output (header = PAT+PMT).
    public let mpegts: StreamHub<LiveChunk>
    private let packaging = Mutex(Packaging())
    private let hls: Mutex<HLSState>
    private let hlsWindow: Int
    /// HLS packaging stops after this long without an HLS request.
    public let hlsIdleTimeout: Duration
    private let stats = Mutex(StreamStatistics())
    private let taps = Mutex<[@Sendable (LiveChunk) -> Void]>([])
    private let passthroughTaps = Mutex<[@Sendable (LiveChunk) -> Void]>([])
    private let bitrateWindow = Mutex((start: Int64(0), bytes: Int64(0)))

    public init(name: String, limits: HubLimits = HubLimits(), hlsWindow: Int = 6, hlsIdleTimeout: Duration = .seconds(60)) {
        self.name = name
        self.m4f = StreamHub(limits: limits)
        self.mpegts = StreamHub(limits: limits)
        self.hlsWindow = hlsWindow
        self.hlsIdleTimeout = hlsIdleTimeout
        self.hls = Mutex(HLSState(playlist: HLSPlaylist(windowSize: hlsWindow)))
    }

    /// Adds a consumer of every M4F chunk (init and media) as it is packaged, such as the recorder. It is
    /// called on the source's task and must not block; it first receives the current init segment, if any.
    public func tap(_ consumer: @escaping @Sendable (LiveChunk) -> Void) {
        taps.withLock { $0.append(consumer) }
        if let header = m4f.header { consumer(header) }
    }

    /// Adds a consumer of the upstream M4F bytes exactly as an M4F source received them (init and
    /// fragments), such as the recorder of a relayed stream: its archive then holds the very bytes the
    /// upstream node stored.
    public func tapPassthrough(_ consumer: @escaping @Sendable (LiveChunk) -> Void) {
        passthroughTaps.withLock { $0.append(consumer) }
    }

    public func passthrough(_ chunk: PassthroughChunk) {
        let consumers = passthroughTaps.withLock { $0 }
        guard !consumers.isEmpty else { return }
        let live = LiveChunk(
            kind: chunk.isInitialization ? .header : .media, bytes: chunk.bytes, startsSegment: chunk.startsSegment, decodeTime: 0,
            duration: chunk.duration, wallClockMicros: chunk.wallClockMicros)
        for consumer in consumers { consumer(live) }
    }

    /// Declares the source's tracks (call again when codec parameters change). The fragments
    /// in progress are completed first, then every output starts over with a new header.
    public func setTracks(_ tracks: [TrackInfo]) {
        let sorted = tracks.sorted { $0.id < $1.id }
        let output = packaging.withLock { state -> (flushed: PackagedOutput, headers: PackagedOutput)? in
            guard sorted != state.tracks else { return nil }
            state.tracks = sorted
            let flushed = PackagedOutput(m4f: state.m4f.flush(), mpegts: state.ts.flush())
            return (flushed, PackagedOutput(m4f: state.m4f.setTracks(sorted), mpegts: state.ts.setTracks(sorted)))
        }
        guard let output else { return }
        stats.withLock { $0.tracks = sorted }
        deliver(output.flushed)
        if let header = output.headers.m4f { m4f.setHeader(header) }
        if let header = output.headers.mpegts { mpegts.setHeader(header) }
        // The M4F header is also part of the byte stream (a mid-stream codec change); the TS
        // header is only what joining readers start with, since each segment repeats PAT/PMT.
        deliver(PackagedOutput(m4f: output.headers.m4f, mpegts: nil))
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
        let tsWanted = mpegts.hasReaders
        let output = packaging.withLock { state -> PackagedOutput in
            if tsWanted != state.tsActive {
                state.tsActive = tsWanted
                if tsWanted { state.ts.restart() }
            }
            guard let normalized = state.normalizer.normalize(frame) else { return PackagedOutput(m4f: nil, mpegts: nil) }
            return PackagedOutput(m4f: state.m4f.push(normalized), mpegts: state.tsActive ? state.ts.push(normalized) : nil)
        }
        if !tsWanted { mpegts.dropCache() }
        deliver(output)
    }

    /// Completes the fragments in progress (the source reached a natural boundary, e.g. the
    /// end of an upstream M4F fragment), so relayed streams add no latency of their own.
    public func flush() {
        deliver(packaging.withLock { state in PackagedOutput(m4f: state.m4f.flush(), mpegts: state.ts.flush()) })
    }

    /// Marks a source switch: the timeline is re-based at the next frame.
    public func discontinuity() {
        packaging.withLock { $0.normalizer.discontinuity() }
    }

    /// Ends every reader's stream.
    public func finish() {
        flush()
        hls.withLock { _ = $0.playlist.closeCurrent() }
        m4f.finish()
        mpegts.finish()
    }

    /// What one call into the packagers produced.
    struct PackagedOutput {
        var m4f: LiveChunk?
        var mpegts: LiveChunk?
    }

    /// Hands packaged chunks to readers, outside the packaging lock. The HLS window is updated
    /// before M4F readers see a chunk, so anyone woken by it finds the segment it completed.
    private func deliver(_ output: PackagedOutput) {
        if let chunk = output.m4f {
            hls.withLock { state in
                guard let last = state.lastRequest else { return }
                if ContinuousClock.now - last > hlsIdleTimeout {
                    state = HLSState(playlist: HLSPlaylist(windowSize: hlsWindow))
                } else {
                    state.playlist.add(chunk)
                }
            }
            m4f.publish(chunk)
            for consumer in taps.withLock({ $0 }) { consumer(chunk) }
        }
        if let chunk = output.mpegts { mpegts.publish(chunk) }
    }

    /// A snapshot of the stream's statistics.
    public var statistics: StreamStatistics {
        var snapshot = stats.withLock { $0 }
        let normalizer = packaging.withLock { $0.normalizer }
        snapshot.timestampDiscontinuities = normalizer.discontinuities
        snapshot.droppedFrames = normalizer.droppedFrames
        return snapshot
    }

    /// The HLS media playlist, or nil before the first segment is complete. Does not count as
    /// an HLS request.
    public func hlsPlaylist() -> String? { hls.withLock { $0.playlist.playlist() } }

    /// Records an HLS request: starts HLS packaging (from the current init segment, at the
    /// next segment start) if it was idle, and keeps it going.
    public func hlsRequested() {
        let header = m4f.header
        hls.withLock { state in
            if state.lastRequest == nil, let header { state.playlist.add(header) }
            state.lastRequest = .now
        }
    }

    /// The HLS media playlist for a player: records the request, then waits up to `timeout`
    /// for the first segment to complete. Wakes on each packaged fragment (a subscription to
    /// ``m4f``), never by polling.
    public func hlsPlaylist(waitingUpTo timeout: Duration) async -> String? {
        hlsRequested()
        if let playlist = hlsPlaylist() { return playlist }
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    for try await _ in self.m4f.subscribe() {
                        if let playlist = self.hlsPlaylist() { return playlist }
                    }
                } catch {
                    // A waiter that falls behind is disconnected: answer with what there is.
                }
                return self.hlsPlaylist()
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? hlsPlaylist()
        }
    }

    /// An HLS media segment by sequence number (a request that keeps HLS packaged).
    public func hlsSegment(_ sequence: Int) -> ByteBuffer? {
        hls.withLock { state in
            guard state.lastRequest != nil else { return nil }
            state.lastRequest = .now
            return state.playlist.segment(sequence)?.bytes
        }
    }

    /// An HLS init segment by version (a request that keeps HLS packaged).
    public func hlsInit(_ version: Int) -> ByteBuffer? {
        hls.withLock { state in
            guard state.lastRequest != nil else { return nil }
            state.lastRequest = .now
            return state.playlist.initSegments[version]
        }
    }
}
