import EstuaryAccess
import EstuaryConfig
import Foundation
import Testing

@Suite struct APIAccessPolicyTests {
    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    let full = APIAccessPolicy(
        AccessConfig(
            editAuth: UserPassword(user: "admin", password: "a1"), viewAuth: UserPassword(user: "viewer", password: "v1"),
            metricsAuth: UserPassword(user: "prom", password: "p1"),
            apiTokens: [APIToken(token: "tok-edit", role: .edit), APIToken(token: "tok-view", role: .view)]))

    @Test func nothingConfiguredLeavesEverythingOpen() {
        let open = APIAccessPolicy(AccessConfig())
        for need in [AccessNeed.open, .metrics, .view, .edit] {
            #expect(open.decide(authorization: nil, need: need) == .allowed)
        }
    }

    @Test func eachCredentialGrantsItsRightAndNoMore() {
        let edit = [Self.basic("admin", "a1"), "Bearer tok-edit"]
        let view = [Self.basic("viewer", "v1"), "Bearer tok-view"]
        for header in edit {
            for need in [AccessNeed.metrics, .view, .edit] { #expect(full.decide(authorization: header, need: need) == .allowed) }
        }
        for header in view {
            #expect(full.decide(authorization: header, need: .view) == .allowed)
            #expect(full.decide(authorization: header, need: .metrics) == .allowed)
            guard case .forbidden = full.decide(authorization: header, need: .edit) else {
                Issue.record("view credentials must be refused an edit with 403")
                continue
            }
        }
        #expect(full.decide(authorization: Self.basic("prom", "p1"), need: .metrics) == .allowed)
        guard case .forbidden = full.decide(authorization: Self.basic("prom", "p1"), need: .view) else {
            Issue.record("metrics credentials do not read the API")
            return
        }
    }

    @Test func missingOrWrongCredentialsAreUnauthorized() {
        let wrong = [
            nil, "", Self.basic("admin", "a2"), Self.basic("admin", "a1x"), Self.basic("viewer", "a1"), "Bearer tok-edi",
            "Bearer tok-edit2", "Basic !!!notbase64", "Digest admin", "tok-edit", Self.basic("admin", ""),
        ]
        for header in wrong {
            guard case .unauthorized = full.decide(authorization: header, need: .edit) else {
                Issue.record("\(header ?? "nil") must be unauthorized")
                continue
            }
        }
        #expect(full.decide(authorization: nil, need: .open) == .allowed)
    }

    @Test func readProtectionAloneStillProtectsWrites() {
        let readOnly = APIAccessPolicy(AccessConfig(viewAuth: UserPassword(user: "viewer", password: "v1")))
        guard case .unauthorized = readOnly.decide(authorization: nil, need: .edit) else {
            Issue.record("an API that hides its reads must not take anonymous writes")
            return
        }
        #expect(readOnly.decide(authorization: Self.basic("viewer", "v1"), need: .edit) == .allowed)
        let editOnly = APIAccessPolicy(AccessConfig(editAuth: UserPassword(user: "admin", password: "a1")))
        #expect(editOnly.decide(authorization: nil, need: .view) == .allowed, "reads stay open without view_auth")
        #expect(editOnly.decide(authorization: nil, need: .metrics) == .allowed, "metrics stay open without metrics_auth")
    }

    @Test func failuresFromOneAddressAreThrottledForTheWindow() {
        let throttle = AuthFailureThrottle(limit: 3, window: .seconds(60), capacity: 2)
        let start = ContinuousClock.now
        for _ in 0..<3 {
            #expect(throttle.retryAfter(ip: "10.0.0.1", now: start) == nil)
            throttle.recordFailure(ip: "10.0.0.1", now: start)
        }
        let wait = throttle.retryAfter(ip: "10.0.0.1", now: start + .seconds(10))
        #expect(wait == .seconds(50))
        #expect(throttle.retryAfter(ip: "10.0.0.2", now: start) == nil, "other addresses are not affected")
        #expect(throttle.retryAfter(ip: "10.0.0.1", now: start + .seconds(61)) == nil, "the window ends")
        // Bounded: a third address evicts the stalest.
        throttle.recordFailure(ip: "10.0.0.2", now: start + .seconds(1))
        throttle.recordFailure(ip: "10.0.0.3", now: start + .seconds(2))
        throttle.recordFailure(ip: "10.0.0.4", now: start + .seconds(3))
        #expect(throttle.retryAfter(ip: "10.0.0.1", now: start + .seconds(4)) == nil)
    }
}
