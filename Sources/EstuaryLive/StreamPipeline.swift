import EstuaryHub
import EstuaryMedia
import NIOCore
import Synchronization

/// Everything one live stream's frames go through after their source: timestamp
/// normalisation, then the M4F, MPEG-TS and HLS packagers whose outputs readers take.
///
/// M4F is packaged while something needs it: a reader of ``m4f`` (a client, another node, a push), a ``tap(_:)``
/// (the recorder of a stream that is not relayed) or HLS (cut from it). Otherwise the stream keeps only its
/// current GOP's frames, and a reader joining starts with them, packaged when it joins: it starts at the last
/// keyframe at once, as from the hub's GOP cache, and an unwatched stream (most of a dvr-node's, which record the
/// upstream bytes) costs no packaging. Audio-only streams are always packaged.
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
        /// Whether M4F is being packaged; while not, ``idleGOP`` keeps the frames a joining reader starts with.
        var m4fActive = true
        var idleGOP: IdleGOP
        var tracks: [TrackInfo] = []
        var hasVideo = false

        /// Packaging starts again: the kept GOP, packaged, is what a reader joining now starts with.
        mutating func resumeM4F() -> [LiveChunk] {
            m4fActive = true
            m4f.restart()
            var chunks: [LiveChunk] = []
            for entry in idleGOP.take() {
                switch entry {
                case .frame(let frame): if let chunk = m4f.push(frame) { chunks.append(chunk) }
                case .boundary: if let chunk = m4f.flush() { chunks.append(chunk) }
                }
            }
            return chunks
        }
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
    private let packaging: Mutex<Packaging>
    private let hls: Mutex<HLSState>
    private let hlsWindow: Int
    /// HLS packaging stops after this long without an HLS request.
    public let hlsIdleTimeout: Duration
    /// The statistics, and the window the input bitrate is measured over (one lock for both: taken for every frame).
    private let stats = Mutex((statistics: StreamStatistics(), window: (start: Int64(0), bytes: Int64(0))))
    private let taps = Mutex<[@Sendable (LiveChunk) -> Void]>([])
    private let passthroughTaps = Mutex<[@Sendable (LiveChunk) -> Void]>([])
    /// Whether a ``tap(_:)`` consumer exists (it needs every M4F chunk).
    private let hasTaps = Atomic(false)
    /// Whether HLS is being packaged (an HLS request came within ``hlsIdleTimeout``).
    private let hlsActive = Atomic(false)

    public init(name: String, limits: HubLimits = HubLimits(), hlsWindow: Int = 6, hlsIdleTimeout: Duration = .seconds(60)) {
        self.name = name
        self.m4f = StreamHub(limits: limits)
        self.mpegts = StreamHub(limits: limits)
        self.hlsWindow = hlsWindow
        self.hlsIdleTimeout = hlsIdleTimeout
        self.hls = Mutex(HLSState(playlist: HLSPlaylist(windowSize: hlsWindow)))
        self.packaging = Mutex(Packaging(idleGOP: IdleGOP(maximumBytes: limits.maximumCachedBytes)))
    }

    /// Adds a consumer of every M4F chunk (init and media) as it is packaged, such as the recorder. It is
    /// called on the source's task and must not block; it first receives the current init segment, if any.
    public func tap(_ consumer: @escaping @Sendable (LiveChunk) -> Void) {
        taps.withLock { $0.append(consumer) }
        hasTaps.store(true, ordering: .releasing)
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
            state.hasVideo = sorted.contains { $0.codec.isVideo }
            state.idleGOP.clear()
            let flushed = PackagedOutput(m4f: state.m4f.flush(), mpegts: state.tsActive ? state.ts.flush() : nil)
            return (flushed, PackagedOutput(m4f: state.m4f.setTracks(sorted), mpegts: state.ts.setTracks(sorted)))
        }
        guard let output else { return }
        stats.withLock { $0.statistics.tracks = sorted }
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
        stats.withLock { state in
            state.statistics.framesIn += 1
            state.statistics.bytesIn += UInt64(frame.data.readableBytes)
            state.statistics.lastFrameMicros = now
            if state.window.start == 0 { state.window.start = now }
            state.window.bytes += Int64(frame.data.readableBytes)
            let elapsed = now - state.window.start
            guard elapsed >= 1_000_000 else { return }
            state.statistics.inputBitsPerSecond = state.window.bytes * 8 * 1_000_000 / elapsed
            state.window = (now, 0)
        }
        let tsWanted = mpegts.hasReaders
        let m4fWanted =
            hasTaps.load(ordering: .acquiring) || hlsActive.load(ordering: .acquiring) || m4f.hasReaders
        let (output, m4fWentIdle, tsWentIdle) = packaging.withLock { state -> (PackagedOutput, Bool, Bool) in
            let tsWentIdle = state.tsActive && !tsWanted
            if tsWanted != state.tsActive {
                state.tsActive = tsWanted
                // Starting or stopping, the TS packager drops what it held: a reader starts at a keyframe.
                state.ts.restart()
            }
            guard let normalized = state.normalizer.normalize(frame) else {
                return (PackagedOutput(m4f: nil, mpegts: nil), false, tsWentIdle)
            }
            let mpegts = state.tsActive ? state.ts.push(normalized) : nil
            guard m4fWanted || !state.hasVideo else {
                guard state.m4fActive else {
                    state.idleGOP.add(normalized)
                    return (PackagedOutput(m4f: nil, mpegts: mpegts), false, tsWentIdle)
                }
                // Packaging stops at a keyframe: the GOP packaged so far stays whole in the hub's cache for a reader
                // coming back within it, and the kept GOP begins where the packaged one ends, so a reader joining at
                // any moment gets neither a gap nor a frame twice.
                guard normalized.codec.isVideo && normalized.isKeyframe else {
                    return (PackagedOutput(m4f: state.m4f.push(normalized), mpegts: mpegts), false, tsWentIdle)
                }
                let tail = state.m4f.flush()
                state.m4fActive = false
                state.m4f.restart()
                state.idleGOP.add(normalized)
                return (PackagedOutput(m4f: tail, mpegts: mpegts), true, tsWentIdle)
            }
            let catchUp = state.m4fActive ? [] : state.resumeM4F()
            return (PackagedOutput(m4fCatchUp: catchUp, m4f: state.m4f.push(normalized), mpegts: mpegts), false, tsWentIdle)
        }
        // Nothing is published to an idle output, so its cache needs forgetting once, when it goes idle.
        if tsWentIdle { mpegts.dropCache() }
        deliver(output)
        // Readers joining while nothing is packaged start from the kept GOP (after the last packaged fragment,
        // delivered just above), not from a cache that would grow stale.
        if m4fWentIdle { m4f.dropCache() }
    }

    /// Completes the fragments in progress (the source reached a natural boundary, e.g. the
    /// end of an upstream M4F fragment), so relayed streams add no latency of their own.
    public func flush() {
        deliver(
            packaging.withLock { state in
                if !state.m4fActive { state.idleGOP.addBoundary() }
                return PackagedOutput(m4f: state.m4f.flush(), mpegts: state.tsActive ? state.ts.flush() : nil)
            })
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
        /// M4F chunks before ``m4f``: the kept GOP, packaged when a reader joined an unwatched stream.
        var m4fCatchUp: [LiveChunk] = []
        var m4f: LiveChunk?
        var mpegts: LiveChunk?
    }

    /// Hands packaged chunks to readers, outside the packaging lock. The HLS window is updated
    /// before M4F readers see a chunk, so anyone woken by it finds the segment it completed.
    private func deliver(_ output: PackagedOutput) {
        for chunk in output.m4fCatchUp { deliverM4F(chunk) }
        if let chunk = output.m4f { deliverM4F(chunk) }
        if let chunk = output.mpegts { mpegts.publish(chunk) }
    }

    private func deliverM4F(_ chunk: LiveChunk) {
        hls.withLock { state in
            guard let last = state.lastRequest else { return }
            if ContinuousClock.now - last > hlsIdleTimeout {
                state = HLSState(playlist: HLSPlaylist(windowSize: hlsWindow))
                hlsActive.store(false, ordering: .releasing)
            } else {
                state.playlist.add(chunk)
            }
        }
        m4f.publish(chunk)
        for consumer in taps.withLock({ $0 }) { consumer(chunk) }
    }

    /// Whether M4F is being packaged now: something reads it (a reader, a tap, HLS), or the GOP in progress is being
    /// completed after the last reader left. While not, the current GOP is kept for the next reader.
    public var isPackagingM4F: Bool { packaging.withLock { $0.m4fActive } }

    /// A snapshot of the stream's statistics.
    public var statistics: StreamStatistics {
        var snapshot = stats.withLock { $0.statistics }
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
            hlsActive.store(true, ordering: .releasing)
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
