import EstuaryClusterAuth
import Foundation
import Testing

@Suite struct ClusterAuthTests {
    private let auth = ClusterAuth(key: "abcd")
    private let now: Int64 = 1_700_000_000

    @Test func knownAnswer() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"abcd",b"GET /cam1/m4f 1700000000",hashlib.sha256).hexdigest())'
        #expect(
            auth.authorizationHeader(method: "GET", path: "/cam1/m4f", now: now)
                == "Cluster 1700000000:9adb53917f7f37fca15194ecd5e9529eb421d51048c2026e4b4f010bb383d5fc"
        )
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"s3cret-key",
        //   b"POST /streamer/api/v3/streams/cam1/dvr/import 1712345678",hashlib.sha256).hexdigest())'
        #expect(
            ClusterAuth(key: "s3cret-key").signature(
                method: "post", path: "/streamer/api/v3/streams/cam1/dvr/import?x=1", unixSeconds: 1_712_345_678)
                == "ba8dfaa8f87337a47dd3cae3b0401d027a08fe9a0f760ed70cc6b768c249b464"
        )
    }

    @Test func dateAndSecondsAgree() {
        let date = Date(timeIntervalSince1970: 1_700_000_000.75)
        #expect(
            auth.authorizationHeader(method: "GET", path: "/x", now: date)
                == auth.authorizationHeader(method: "GET", path: "/x", now: now))
    }

    @Test func signAndVerify() throws {
        let header = auth.authorizationHeader(method: "GET", path: "/cam1/archive-1700000000-60.m4f", now: now)
        try auth.verify(header: header, method: "GET", path: "/cam1/archive-1700000000-60.m4f", now: now)
        try auth.verify(header: header, method: "get", path: "/cam1/archive-1700000000-60.m4f?from=1", now: now + 120)
        try auth.verify(header: header, method: "GET", path: "/cam1/archive-1700000000-60.m4f", now: now - 120)
        let date = Date()
        try auth.verify(header: auth.authorizationHeader(method: "POST", path: "/i", now: date), method: "POST", path: "/i", now: date)
        #expect(throws: Never.self) {
            try auth.check(
                header: header, method: "GET", path: "/cam1/archive-1700000000-60.m4f", now: Date(timeIntervalSince1970: 1_700_000_030)
            ).get()
        }
    }

    @Test func wrongKeyOrRequestIsABadSignature() {
        let header = ClusterAuth(key: "other").authorizationHeader(method: "GET", path: "/cam1/m4f", now: now)
        #expect(throws: ClusterAuthError.badSignature) {
            try auth.verify(header: header, method: "GET", path: "/cam1/m4f", now: now)
        }
        let mine = auth.authorizationHeader(method: "GET", path: "/cam1/m4f", now: now)
        #expect(throws: ClusterAuthError.badSignature) { try auth.verify(header: mine, method: "GET", path: "/cam2/m4f", now: now) }
        #expect(throws: ClusterAuthError.badSignature) {
            try auth.verify(header: mine, method: "POST", path: "/cam1/m4f", now: now)
        }
        let shifted = mine.replacingOccurrences(of: "1700000000:", with: "1700000001:")
        #expect(throws: ClusterAuthError.badSignature) {
            try auth.verify(header: shifted, method: "GET", path: "/cam1/m4f", now: now)
        }
    }

    @Test func skewOver120SecondsIsStale() {
        let header = auth.authorizationHeader(method: "GET", path: "/cam1/m4f", now: now)
        #expect(throws: ClusterAuthError.stale(skewSeconds: 121)) {
            try auth.verify(header: header, method: "GET", path: "/cam1/m4f", now: now + 121)
        }
        #expect(throws: ClusterAuthError.stale(skewSeconds: -121)) {
            try auth.verify(header: header, method: "GET", path: "/cam1/m4f", now: now - 121)
        }
        #expect(throws: ClusterAuthError.stale(skewSeconds: Int64.max)) {
            try auth.verify(
                header: "Cluster 9223372036854775807:\(String(repeating: "0", count: 64))", method: "GET", path: "/", now: -10)
        }
    }

    @Test func missingHeader() {
        #expect(throws: ClusterAuthError.missing) { try auth.verify(header: nil, method: "GET", path: "/x", now: now) }
        #expect(throws: ClusterAuthError.missing) { try auth.verify(header: "  ", method: "GET", path: "/x", now: now) }
    }

    @Test(arguments: [
        "garbage",
        "Basic dXNlcjpwYXNz",
        "Bearer abcd",
        "Cluster",
        "Cluster ",
        "Cluster 1700000000",
        "Cluster :9adb53917f7f37fca15194ecd5e9529eb421d51048c2026e4b4f010bb383d5fc",
        "Cluster -5:9adb53917f7f37fca15194ecd5e9529eb421d51048c2026e4b4f010bb383d5fc",
        "Cluster 17e8:9adb53917f7f37fca15194ecd5e9529eb421d51048c2026e4b4f010bb383d5fc",
        "Cluster 1700000000:9adb53917f7f37fca15194ecd5e9529eb421d51048c2026e4b4f010bb383d5f",
        "Cluster 1700000000:9adb53917f7f37fca15194ecd5e9529eb421d51048c2026e4b4f010bb383d5fcc",
        "Cluster 1700000000:zzdb53917f7f37fca15194ecd5e9529eb421d51048c2026e4b4f010bb383d5fc",
        "Cluster 99999999999999999999:9adb53917f7f37fca15194ecd5e9529eb421d51048c2026e4b4f010bb383d5fc",
    ])
    func garbageIsMalformed(header: String) {
        let error = #expect(throws: ClusterAuthError.self) {
            try auth.verify(header: header, method: "GET", path: "/cam1/m4f", now: now)
        }
        guard case .malformed = error else {
            Issue.record("expected malformed, got \(String(describing: error))")
            return
        }
    }

    @Test func headerParsingIsTolerant() throws {
        let header = auth.authorizationHeader(method: "GET", path: "/cam1/m4f", now: now)
        try auth.verify(
            header: header.uppercased().replacingOccurrences(of: "CLUSTER", with: "cluster"), method: "GET", path: "/cam1/m4f",
            now: now)
        try auth.verify(header: "  " + header + " ", method: "GET", path: "/cam1/m4f", now: now)
    }

    @Test func theKeyIsNeverPrinted() {
        let secret = "very-secret-cluster-key"
        let auth = ClusterAuth(key: secret)
        #expect(!String(describing: auth).contains(secret))
        #expect(!String(reflecting: auth).contains(secret))
        var dumped = ""
        dump(auth, to: &dumped)
        #expect(!dumped.contains(secret))
        let header = auth.authorizationHeader(method: "GET", path: "/x", now: now)
        #expect(!header.contains(secret))
        let errors: [ClusterAuthError] = [.missing, .malformed("x"), .stale(skewSeconds: 121), .badSignature]
        for error in errors {
            #expect(!error.description.contains(secret))
            #expect(!error.description.isEmpty)
        }
    }
}
