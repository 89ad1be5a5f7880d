import EstuaryConfig
import EstuaryMedia
import Logging

/// Runs a stream's inputs for as long as the stream runs.
///
/// Guarantees: an input silent for its `source_timeout` is dropped and reconnected with
/// exponential backoff (0.5 s doubling to 10 s). An input answering that its stream is not there (HTTP 404
/// or 503) is first retried every ``notThereRetry``, ``notThereRetries`` times: in a cluster such a stream is
/// usually starting on its new node (a failover, a placement), and a reader back within one GOP of its start
/// gets it from its first keyframe, losing nothing. With several inputs, a failure moves to the
/// next by priority, and while a lower-priority input is active the preferred ones are probed
/// every ``probeInterval`` and take over at their first keyframe, without a gap. Every
/// failure is reported in ``InputStatus`` and the log.
public struct InputSupervisor: Sendable {
    public let inputs: [InputConfig]
    public let factory: SourceFactory
    public let status: InputStatus
    public let logger: Logger
    /// The stream the inputs belong to (what a `publish://` input waits for).
    public let stream: String
    public var probeInterval: Duration = .seconds(5)
    public var maximumBackoff: Duration = .seconds(10)
    /// The pause between the quick retries of an input whose stream is not there yet.
    public var notThereRetry: Duration = .milliseconds(250)
    /// How many quick retries (in a row, per 30 s of running) before the usual backoff.
    public var notThereRetries = 12

    public init(inputs: [InputConfig], factory: SourceFactory, status: InputStatus, logger: Logger, stream: String = "") {
        self.stream = stream
        self.inputs = inputs.enumerated().sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }.map(\.element)
        self.factory = factory
        self.status = status
        self.logger = logger
    }

    enum Outcome: Sendable {
        case ended(index: Int, error: (any Error)?, ranFor: Duration)
        case start(Int)
        case probe
    }

    enum WatchdogStop: Error {
        case deposed
    }

    /// Runs until the task is cancelled.
    public func run(into sink: some MediaSink) async {
        guard !inputs.isEmpty else { return }
        let gate = InputGate(sink: sink, status: status, logger: logger)
        var running: Set<Int> = []
        var failures = 0
        var quickRetries = 0
        await withTaskGroup(of: Outcome.self) { group in
            func spawn(_ index: Int) {
                guard !running.contains(index) else { return }
                running.insert(index)
                group.addTask { await attempt(index, gate: gate) }
            }
            spawn(0)
            if inputs.count > 1 {
                group.addTask { await sleepOutcome(probeInterval, .probe) }
            }
            while let outcome = await group.next() {
                if Task.isCancelled { break }
                switch outcome {
                case .ended(let index, let error, let ranFor):
                    running.remove(index)
                    let wasActive = gate.release(index)
                    guard let error, !(error is WatchdogStop) else { continue }
                    status.failed(index, error: error, wasActive: wasActive)
                    logger.warning(
                        "input failed",
                        metadata: ["input": .string(SecretMasking.mask(url: inputs[index].url)), "error": .string("\(error)")])
                    guard wasActive || gate.activeIndex == nil else { continue }
                    if ranFor > .seconds(30) {
                        failures = 0
                        quickRetries = 0
                    }
                    let next = (index + 1) % inputs.count
                    let delay: Duration
                    if Self.streamNotThere(error), quickRetries < notThereRetries {
                        quickRetries += 1
                        delay = notThereRetry
                    } else {
                        failures += 1
                        delay = backoff(failures)
                    }
                    group.addTask { await sleepOutcome(delay, .start(next)) }
                case .start(let index):
                    status.attempted()
                    spawn(index)
                case .probe:
                    let active = gate.activeIndex ?? inputs.count
                    if active > 0, !running.contains(0), !running.isEmpty {
                        status.attempted()
                        spawn(0)
                    }
                    group.addTask { await sleepOutcome(probeInterval, .probe) }
                }
            }
            group.cancelAll()
        }
    }

    /// The source answered that its stream is not there (404, or 503 while it starts).
    static func streamNotThere(_ error: any Error) -> Bool {
        guard case .httpStatus(_, let status) = error as? SourceError else { return false }
        return status == 404 || status == 503
    }

    private func backoff(_ failures: Int) -> Duration {
        let base = Duration.milliseconds(500) * (1 << min(max(failures - 1, 0), 5))
        let capped = min(base, maximumBackoff)
        return capped + .milliseconds(Int.random(in: 0...100))
    }

    private func sleepOutcome(_ delay: Duration, _ outcome: Outcome) async -> Outcome {
        try? await Task.sleep(for: delay)
        return outcome
    }

    /// One connection of input `index`, with its watchdog.
    private func attempt<Sink: MediaSink>(_ index: Int, gate: InputGate<Sink>) async -> Outcome {
        let input = inputs[index]
        let started = ContinuousClock.now
        let display = SecretMasking.mask(url: input.url)
        let source: any MediaSource
        do {
            source = try factory.makeSource(for: input, stream: stream)
        } catch {
            return .ended(index: index, error: error, ranFor: .zero)
        }
        let sink = GatedSink(index: index, url: display, gate: gate)
        let timeout = Duration.seconds(max(input.sourceTimeout, 1))
        // A tenth of the timeout, within 100 ms…1 s: silence is noticed within 10 % of source_timeout, and an
        // idle node with many streams does not wake for each of them four times a second.
        let tick = min(max(timeout / 10, .milliseconds(100)), .seconds(1))
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await source.run(into: sink)
                }
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: tick)
                        if gate.isDeposed(index) { throw WatchdogStop.deposed }
                        // An input waiting for a publisher is not silent: it has no peer yet.
                        if source.waitsForPeer, !sink.hasActivity { continue }
                        if ContinuousClock.now - sink.lastActivity > timeout {
                            throw SourceError.timeout(url: display, seconds: input.sourceTimeout)
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            return .ended(index: index, error: error, ranFor: ContinuousClock.now - started)
        }
        return .ended(
            index: index, error: Task.isCancelled ? nil : SourceError.endOfStream(url: display), ranFor: ContinuousClock.now - started)
    }
}
