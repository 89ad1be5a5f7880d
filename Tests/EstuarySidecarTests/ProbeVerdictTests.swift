import EstuarySidecar
import Testing

/// What a sidecar reports of its node from a run of probe outcomes: a busy node keeps its streams for the
/// silence limit, a refusing one loses them after two refusals, an explicit "not ready" at once.
@Suite struct ProbeVerdictTests {
    let start = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int64(seconds * 1000)) }
    let loaded = NodeReport(ready: true, streams: 2, bitrate: 3_000_000, alive: ["a", "b"], bitrates: ["a": 1_000_000, "b": 2_000_000])

    @Test func aNodeSilentForLessThanTheLimitKeepsItsLastReport() {
        var verdict = ProbeVerdict(silenceLimit: .seconds(10))
        #expect(verdict.next(.answered(loaded), startedAt: at(0), now: at(0.01)) == loaded)
        // Probes every 0.5 s, each unanswered for its 2 s timeout: silent from 0.5 s on.
        var time = 0.5
        while time + 2 < 10.5 {
            #expect(verdict.next(.silent, startedAt: at(time), now: at(time + 2)) == nil, "reported at \(time + 2) s")
            time += 2.5
        }
        #expect(verdict.next(.silent, startedAt: at(time), now: at(time + 2)) == .unreachable)
    }

    @Test func anAnswerEndsTheSilence() {
        var verdict = ProbeVerdict(silenceLimit: .seconds(10))
        #expect(verdict.next(.silent, startedAt: at(0), now: at(2)) == nil)
        #expect(verdict.next(.silent, startedAt: at(2.5), now: at(4.5)) == nil)
        #expect(verdict.next(.answered(loaded), startedAt: at(5), now: at(9)) == loaded)
        // Counted again from the first unanswered probe after the answer, not from the first silence.
        #expect(verdict.next(.silent, startedAt: at(9.5), now: at(11.5)) == nil)
        #expect(verdict.next(.silent, startedAt: at(12), now: at(14)) == nil)
        #expect(verdict.next(.silent, startedAt: at(17), now: at(19.5)) == .unreachable)
    }

    @Test func twoRefusalsInARowMakeTheNodeNotReady() {
        var verdict = ProbeVerdict(silenceLimit: .seconds(10))
        #expect(verdict.next(.answered(loaded), startedAt: at(0), now: at(0.01)) == loaded)
        #expect(verdict.next(.refused, startedAt: at(0.5), now: at(0.51)) == nil)
        #expect(verdict.next(.answered(loaded), startedAt: at(1), now: at(1.01)) == loaded)
        #expect(verdict.next(.refused, startedAt: at(1.5), now: at(1.51)) == nil)
        #expect(verdict.next(.silent, startedAt: at(2), now: at(4)) == nil, "a refusal then a silence is not two refusals")
        #expect(verdict.next(.refused, startedAt: at(4.5), now: at(4.51)) == nil)
        #expect(verdict.next(.refused, startedAt: at(5), now: at(5.01)) == .unreachable)
    }

    @Test func refusalsAndSilencesTogetherCountTowardsTheLimit() {
        var verdict = ProbeVerdict(silenceLimit: .seconds(10))
        var time = 0.0
        var reports: [NodeReport?] = []
        while time < 12 {
            reports.append(verdict.next(.silent, startedAt: at(time), now: at(time + 2)))
            reports.append(verdict.next(.refused, startedAt: at(time + 2.5), now: at(time + 2.51)))
            time += 3
        }
        #expect(reports.prefix(6).allSatisfy { $0 == nil })
        #expect(reports.contains(.unreachable))
    }

    @Test func aNodeAnsweringNotReadyIsNotReadyAtOnce() {
        var verdict = ProbeVerdict(silenceLimit: .seconds(10))
        #expect(verdict.next(.answered(loaded), startedAt: at(0), now: at(0.01)) == loaded)
        #expect(verdict.next(.answered(.unreachable), startedAt: at(0.5), now: at(0.51)) == .unreachable)
    }

    @Test func aReadyNodeWithoutItsStreamListKeepsItsLastLoad() {
        var verdict = ProbeVerdict(silenceLimit: .seconds(10))
        #expect(verdict.next(.readyWithoutLoad, startedAt: at(0), now: at(2)) == NodeReport(ready: true))
        #expect(verdict.next(.answered(loaded), startedAt: at(2.5), now: at(2.51)) == loaded)
        #expect(verdict.next(.readyWithoutLoad, startedAt: at(3), now: at(5)) == loaded)
        #expect(verdict.next(.answered(.unreachable), startedAt: at(5.5), now: at(5.51)) == .unreachable)
        #expect(verdict.next(.readyWithoutLoad, startedAt: at(6), now: at(8)) == loaded, "the last load is what the node last ran")
    }
}
