import EstuaryMedia
import Logging
import Synchronization

/// Decides which of a stream's running inputs delivers: the active one forwards; another that
/// has higher priority takes over at its first keyframe (failback without a gap); the deposed
/// one notices and stops.
final class InputGate<Sink: MediaSink>: Sendable {
    let sink: Sink
    let status: InputStatus
    let logger: Logger
    private let active = Mutex<Int?>(nil)

    init(sink: Sink, status: InputStatus, logger: Logger) {
        self.sink = sink
        self.status = status
        self.logger = logger
    }

    var activeIndex: Int? { active.withLock { $0 } }

    /// Clears the active input if it is `index` (it failed). Returns whether it was active.
    func release(_ index: Int) -> Bool {
        active.withLock { active in
            guard active == index else { return false }
            active = nil
            return true
        }
    }

    /// Whether `index` was deposed by a higher-priority input.
    func isDeposed(_ index: Int) -> Bool {
        active.withLock { active in
            guard let active else { return false }
            return active < index
        }
    }

    /// Makes `index` active if nothing is, or if it outranks the active input.
    func claim(_ index: Int) -> Bool {
        active.withLock { active in
            if active == index { return false }
            guard active.map({ index < $0 }) ?? true else { return false }
            active = index
            return true
        }
    }
}

/// The sink one input writes to: it records activity for the watchdog, and forwards only
/// while its input is the active one.
final class GatedSink<Sink: MediaSink>: MediaSink {
    let index: Int
    let url: String
    let gate: InputGate<Sink>
    private struct State {
        var tracks: [TrackInfo] = []
        var lastActivity = ContinuousClock.now
        var hasActivity = false
        var forwarding = false
        var passthroughHeader: PassthroughChunk?
    }
    private let state = Mutex(State())

    init(index: Int, url: String, gate: InputGate<Sink>) {
        self.index = index
        self.url = url
        self.gate = gate
    }

    var lastActivity: ContinuousClock.Instant { state.withLock { $0.lastActivity } }

    /// Whether the input has delivered anything yet (a publisher's arrival counts).
    var hasActivity: Bool { state.withLock { $0.hasActivity } }

    /// A new peer (a publisher) arrived: the watchdog's clock starts now. The gate itself marks the
    /// discontinuity downstream when this input becomes the active one.
    func discontinuity() {
        state.withLock { state in
            state.lastActivity = .now
            state.hasActivity = true
        }
    }

    func setTracks(_ tracks: [TrackInfo]) {
        let forward = state.withLock { state in
            state.tracks = tracks
            state.lastActivity = .now
            state.hasActivity = true
            return state.forwarding
        }
        if forward, gate.activeIndex == index { gate.sink.setTracks(tracks) }
    }

    func push(_ frame: MediaFrame) {
        // The tracks only while not forwarding: no array retained and released for every forwarded frame.
        let waitingWith = state.withLock { state -> [TrackInfo]? in
            state.lastActivity = .now
            state.hasActivity = true
            return state.forwarding ? nil : state.tracks
        }
        guard let tracks = waitingWith else {
            if gate.activeIndex == index { gate.sink.push(frame) }
            return
        }
        let canStart = frame.isKeyframe && (frame.codec.isVideo || !tracks.contains { $0.codec.isVideo })
        guard canStart, !tracks.isEmpty, gate.claim(index) else { return }
        let header = state.withLock { state in
            state.forwarding = true
            return state.passthroughHeader
        }
        gate.status.activated(index, url: url)
        gate.sink.discontinuity()
        gate.sink.setTracks(tracks)
        if let header { gate.sink.passthrough(header) }
        gate.sink.push(frame)
    }

    func passthrough(_ chunk: PassthroughChunk) {
        let forwarding = state.withLock { state in
            if chunk.isInitialization { state.passthroughHeader = chunk }
            return state.forwarding
        }
        if forwarding, gate.activeIndex == index { gate.sink.passthrough(chunk) }
    }

    /// Counts damaged input in the stream's status and logs the first errors, then every 100th,
    /// so garbage cannot flood the log.
    func inputError(_ description: String) {
        let count = gate.status.damaged(description)
        if count <= 5 || count % 100 == 0 {
            gate.logger.warning(
                "damaged input skipped",
                metadata: ["input": .string(url), "error": .string(description), "count": .stringConvertible(count)])
        }
    }

    func flush() {
        if state.withLock({ $0.forwarding }), gate.activeIndex == index { gate.sink.flush() }
    }
}
