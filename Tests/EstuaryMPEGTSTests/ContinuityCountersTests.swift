import Testing

@testable import EstuaryMPEGTS

/// `ContinuityCounters` keeps four PIDs inline and more in a dictionary: it must answer exactly as a dictionary does.
@Suite struct ContinuityCountersTests {
    @Test func randomOperationsAnswerAsADictionaryDoes() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<50 {
            var counters = ContinuityCounters()
            var model: [Int: UInt8] = [:]
            // Up to ten PIDs in play, so the inline slots fill, overflow, empty and refill.
            let pids = (0..<10).map { _ in Int.random(in: 0...0x1FFF, using: &generator) }
            for step in 0..<400 {
                let pid = pids.randomElement(using: &generator)!
                switch Int.random(in: 0..<20, using: &generator) {
                case 0:
                    counters.removeAll()
                    model = [:]
                case 1...5:
                    counters.remove(pid)
                    model[pid] = nil
                default:
                    let counter = UInt8.random(in: 0...15, using: &generator)
                    let replaced = counters.update(counter, for: pid)
                    #expect(replaced == model.updateValue(counter, forKey: pid), "round \(round) step \(step) pid \(pid)")
                }
                for pid in pids {
                    #expect(counters[pid] == model[pid], "round \(round) step \(step) pid \(pid)")
                }
            }
        }
    }
}
