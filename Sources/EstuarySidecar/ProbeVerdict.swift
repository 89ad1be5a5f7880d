/// Turns the outcomes of a sidecar's probes of its node into what it reports (``NodeProbe`` says why):
/// an answer is reported as it is; two refusals in a row, or no answer at all for ``silenceLimit`` since the
/// first unanswered probe began, report the node not ready; anything short of that reports nothing, so the last
/// report stands.
public struct ProbeVerdict: Sendable {
    /// How long a node may leave every probe unanswered before it counts as not ready.
    public let silenceLimit: Duration
    /// When the first of the unanswered probes in a row began.
    private var unansweredSince: ContinuousClock.Instant?
    private var refusedInARow = 0
    /// The last report with the node's load, kept when the node answers `/readyz` but not its stream list.
    private var lastLoad: NodeReport?

    /// Creates a verdict with no probe seen yet.
    public init(silenceLimit: Duration) {
        self.silenceLimit = silenceLimit
    }

    /// What to report after a probe that began at `started` and ended at `now`; `nil` to report nothing new.
    public mutating func next(
        _ outcome: NodeProbe.Outcome, startedAt started: ContinuousClock.Instant, now: ContinuousClock.Instant
    )
        -> NodeReport?
    {
        switch outcome {
        case .answered(let report):
            unansweredSince = nil
            refusedInARow = 0
            if report.ready { lastLoad = report }
            return report
        case .readyWithoutLoad:
            unansweredSince = nil
            refusedInARow = 0
            return lastLoad ?? NodeReport(ready: true)
        case .refused, .silent:
            refusedInARow = outcome == .refused ? refusedInARow + 1 : 0
            let since = unansweredSince ?? started
            unansweredSince = since
            return refusedInARow >= 2 || now - since >= silenceLimit ? .unreachable : nil
        }
    }
}

extension NodeProbe.Outcome: CustomStringConvertible {
    public var description: String {
        switch self {
        case .answered(let report): report.ready ? "answered" : "answered not ready"
        case .readyWithoutLoad: "ready, no stream list"
        case .refused: "refused"
        case .silent: "no answer"
        }
    }
}
