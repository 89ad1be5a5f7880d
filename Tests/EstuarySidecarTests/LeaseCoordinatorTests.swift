import Testing

@testable import EstuarySidecar

/// The coordinator's forced plans: each node plans on its own phase of the period, so a cluster's sidecars
/// started together do not all plan in the same second.
@Suite struct LeaseCoordinatorTests {
    @Test func aHostnameKeepsItsPhaseAndHostnamesSpreadOverThePeriod() {
        let period = LeaseCoordinator.forcedPlanSeconds
        for hostname in ["node-0", "ingest-1", ""] {
            let phase = LeaseCoordinator.planPhase(of: hostname)
            #expect(phase >= 0 && phase < period, "phase \(phase) of \(hostname)")
            #expect(LeaseCoordinator.planPhase(of: hostname) == phase)
        }
        for prefix in ["node-", "ingest-", "estuary-dvr-"] {
            var perSecond = [Int](repeating: 0, count: Int(period))
            for index in 0..<50 { perSecond[Int(LeaseCoordinator.planPhase(of: "\(prefix)\(index)"))] += 1 }
            // Even would be 5 a second: no second holds more than a fifth of the nodes, and at most one is empty.
            #expect(perSecond.max() ?? 0 <= 10, "\(prefix): \(perSecond)")
            #expect(perSecond.filter { $0 == 0 }.count <= 1, "\(prefix): \(perSecond)")
        }
        #expect(LeaseCoordinator.planPhase(of: "node-0") != LeaseCoordinator.planPhase(of: "node-1"))
    }
}
