import AsyncHTTPClient
import EstuaryConfig
import EstuaryConfigExternal
import EstuaryNode
import EstuaryTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// A backend stream whose input is an idle UDP socket: it runs without media and never reconnects.
func idleStreamJSON(_ name: String, port: Int, timeout: Int = 600) -> String {
    "{\"name\": \"\(name)\", \"inputs\": [{\"url\": \"udp://127.0.0.1:\(port)\", \"source_timeout\": \(timeout)}]}"
}

extension IntegrationTests {
    /// config_external (DESIGN §3) against a scripted backend: real node, real HTTP, every request recorded.
    @Suite(.serialized) struct ConfigExternalTests {
        /// Options for a node driven by `url`, cycling fast so that tests take seconds.
        static func driven(by url: String, timeout: Duration = .seconds(5)) -> (inout NodeOptions) -> Void {
            { options in
                options.configExternalOverride = url
                options.configExternalInterval = .milliseconds(200) ... .milliseconds(300)
                options.configExternalTimeout = timeout
            }
        }

        /// Identities of running streams: a restarted stream is a new object.
        static func identities(_ node: Node, _ names: [String]) -> [String: ObjectIdentifier] {
            var result: [String: ObjectIdentifier] = [:]
            for name in names { if let stream = node.manager.stream(named: name) { result[name] = ObjectIdentifier(stream) } }
            return result
        }

        /// Waits until the backend has seen `count` more list requests (whole cycles).
        static func waitForCycles(_ backend: ScriptedBackend, _ count: Int, timeout: Duration = .seconds(15)) async throws {
            let start = backend.requests.count { $0.isList && $0.parameters["cursor"] == nil }
            try await waitUntil("\(count) more config cycles", timeout: timeout) {
                backend.requests.count { $0.isList && $0.parameters["cursor"] == nil } >= start + count
            }
        }

        @Test func theListStartsRestartsAndStopsOnlyWhatChanged() async throws {
            try await withBackend { backend, control in
                backend.list(["a", "b", "c"]) { idleStreamJSON($0, port: 31_000 + Int($0.unicodeScalars.first!.value)) }
                try await withNode(streams: [], logLevel: .error, options: Self.driven(by: control.url)) { node, _ in
                    try await waitUntil("a, b, c run") { node.manager.externalStreamNames() == ["a", "b", "c"] }
                    #expect(node.manager.stream(named: "a")?.origin == .external)
                    let before = Self.identities(node, ["a", "b", "c"])

                    backend.list(["a", "b", "c"]) { name in
                        idleStreamJSON(name, port: 31_000 + Int(name.unicodeScalars.first!.value), timeout: name == "b" ? 500 : 600)
                    }
                    try await waitUntil("b restarts with its new configuration") {
                        node.manager.stream(named: "b")?.config.inputs.first?.sourceTimeout == 500
                    }
                    try await Self.waitForCycles(backend, 2)
                    let after = Self.identities(node, ["a", "b", "c"])
                    #expect(after["a"] == before["a"], "a was restarted though unchanged")
                    #expect(after["c"] == before["c"], "c was restarted though unchanged")
                    #expect(after["b"] != before["b"])

                    backend.list(["a", "b"]) { idleStreamJSON($0, port: 31_000 + Int($0.unicodeScalars.first!.value)) }
                    try await waitUntil("c stops") { node.manager.stream(named: "c") == nil }
                    #expect(Self.identities(node, ["a"])["a"] == before["a"])
                    // c was asked for by name before it was stopped.
                    #expect(backend.requests.contains { $0.names == ["c"] })
                    let hosts = Set(backend.requests.map { $0.parameters["host"] ?? "(none)" })
                    #expect(hosts == ["test-node"], "requests without this node's host: \(hosts)")
                }
            }
        }

        @Test func cursorPagingIsFollowedToTheEnd() async throws {
            try await withBackend { backend, control in
                let names = (0..<7).map { "paged\($0)" }
                backend.list(names) { idleStreamJSON($0, port: 32_000 + Int($0.dropFirst(5))!) }
                backend.script.withLock { $0.pageSize = 3 }
                try await withNode(streams: [], logLevel: .error, options: Self.driven(by: control.url)) { node, _ in
                    try await waitUntil("all 7 paged streams run") { node.manager.externalStreamNames() == Set(names) }
                    try await Self.waitForCycles(backend, 2)
                    // Each cycle asks page 1, then cursor 3, then cursor 6, and stops at next: null.
                    let cursors = backend.requests.filter(\.isList).map { $0.parameters["cursor"] ?? "-" }
                    let cycle = Array(cursors.suffix(from: try #require(cursors.firstIndex(of: "-"))).prefix(3))
                    #expect(cycle == ["-", "3", "6"], "cursors asked: \(cursors)")
                    #expect(!cursors.contains("9"))
                    #expect(node.manager.externalStreamNames().count == 7)
                }
            }
        }

        @Test func twoThousandMissingStreamsAreAskedByNameInKilobyteChunks() async throws {
            try await withBackend { backend, control in
                let names = (0..<2000).map { "channel-\($0)/main" }
                func json(_ name: String) -> String {
                    let index = Int(name.dropFirst(8).prefix { $0 != "/" })!
                    return idleStreamJSON(name, port: 33_000 + index)
                }
                backend.list(names, json: json)
                try await withNode(streams: [], logLevel: .critical, options: Self.driven(by: control.url)) { node, _ in
                    try await waitUntil("2000 streams run", timeout: .seconds(60)) { node.manager.externalStreamNames().count == 2000 }
                    let before = Self.identities(node, names)
                    // The list no longer names them, but the backend still knows each by name.
                    backend.script.withLock { script in
                        script.byName = Dictionary(uniqueKeysWithValues: script.listed.map { ($0.name, $0.json) })
                        script.listed = []
                    }
                    try await Self.waitForCycles(backend, 1)
                    backend.clearLog()
                    try await Self.waitForCycles(backend, 3, timeout: .seconds(30))
                    let log = backend.requests
                    let listIndices = log.indices.filter { log[$0].isList }
                    let cycle = log[listIndices[0]..<listIndices[1]]
                    let asked = cycle.flatMap(\.names)
                    #expect(asked.count == 2000, "\(asked.count) names asked in one cycle")
                    #expect(Set(asked) == Set(names), "not every running stream was asked")
                    let questions = cycle.filter { !$0.names.isEmpty }
                    #expect(questions.count > 1)
                    for question in questions {
                        #expect(question.query.utf8.count <= 1024, "a query of \(question.query.utf8.count) bytes")
                        #expect(question.parameters["host"] == "test-node")
                    }
                    #expect(Self.identities(node, names) == before, "a stream the backend still returns was restarted")

                    // Ten the backend forgets are stopped; the rest keep running untouched.
                    let forgotten = Array(names.prefix(10))
                    backend.script.withLock { script in for name in forgotten { script.byName[name] = nil } }
                    try await waitUntil("the forgotten ten stop") { node.manager.externalStreamNames().count == 1990 }
                    let remaining = Array(names.dropFirst(10))
                    #expect(Self.identities(node, remaining) == before.filter { !forgotten.contains($0.key) })
                }
            }
        }

        @Test func separateEndpointsSendQuestionsToTheirOwnEndpoints() async throws {
            try await withBackend { backend, control in
                backend.list(["kept", "asked"]) { idleStreamJSON($0, port: 34_000 + $0.count) }
                backend.script.withLock { $0.headers = [("X-Config-Server-Separate-Endpoints", "true")] }
                try await withNode(streams: [], logLevel: .error, options: Self.driven(by: control.url)) { node, port in
                    try await waitUntil("both run") { node.manager.externalStreamNames().count == 2 }
                    backend.script.withLock { script in
                        script.byName["asked"] = script.listed[1].json
                        script.byName["dyn"] = idleStreamJSON("dyn", port: 34_100)
                        script.listed.removeLast()
                    }
                    try await waitUntil("'asked' is asked at /update_streams_list") {
                        backend.requests.contains { $0.path == "/update_streams_list" && $0.names == ["asked"] }
                    }
                    #expect(!backend.requests.contains { $0.path == "/streams" && !$0.names.isEmpty })
                    #expect(node.manager.stream(named: "asked") != nil)

                    #expect(try await httpStatus("http://127.0.0.1:\(port)/dyn/m4f") == 200)
                    #expect(backend.requests.contains { $0.path == "/dynamic_streams_list" && $0.names == ["dyn"] })
                    #expect(node.manager.stream(named: "dyn")?.origin == .dynamic)

                    // Without the header, everything goes to /streams again (re-read every cycle).
                    backend.script.withLock { $0.headers = [] }
                    try await Self.waitForCycles(backend, 1)
                    backend.clearLog()
                    try await Self.waitForCycles(backend, 2)
                    let questions = backend.requests.filter { !$0.names.isEmpty }
                    #expect(!questions.isEmpty && questions.allSatisfy { $0.path == "/streams" }, "\(questions.map(\.path))")
                }
            }
        }

        @Test func dynamicNamesAreBatchedAnsweredAndRefusedWhenDisabled() async throws {
            try await withBackend { backend, control in
                backend.script.withLock { script in
                    for index in 0..<5 { script.byName["dyn\(index)"] = idleStreamJSON("dyn\(index)", port: 35_000 + index) }
                }
                try await withNode(streams: [], logLevel: .error, options: Self.driven(by: control.url)) { node, port in
                    try await Self.waitForCycles(backend, 1)
                    backend.clearLog()
                    let statuses = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                        for index in 0..<10 {
                            group.addTask { (index, try await httpStatus("http://127.0.0.1:\(port)/dyn\(index)/m4f")) }
                        }
                        var statuses: [Int: Int] = [:]
                        for try await (index, status) in group { statuses[index] = status }
                        return statuses
                    }
                    for index in 0..<5 { #expect(statuses[index] == 200, "dyn\(index): \(statuses[index] ?? 0)") }
                    for index in 5..<10 { #expect(statuses[index] == 404, "dyn\(index): \(statuses[index] ?? 0)") }
                    let questions = backend.requests.filter { !$0.names.isEmpty }
                    #expect(questions.count <= 2, "\(questions.count) backend calls for 10 near-simultaneous plays")
                    #expect(Set(questions.flatMap(\.names)) == Set((0..<10).map { "dyn\($0)" }))
                    #expect(node.manager.stream(named: "dyn3")?.origin == .dynamic)

                    // A scanner repeating an unknown name is answered from the negative cache.
                    backend.clearLog()
                    for _ in 0..<5 { #expect(try await httpStatus("http://127.0.0.1:\(port)/dyn7/m4f") == 404) }
                    #expect(!backend.requests.contains { $0.names.contains("dyn7") })
                    // An invalid name never reaches the backend.
                    #expect(try await httpStatus("http://127.0.0.1:\(port)/bad%20name/m4f") == 404)

                    // Dynamic streams are kept by the cycle while the backend returns them by name.
                    try await Self.waitForCycles(backend, 2)
                    #expect(node.manager.externalStreamNames().isSuperset(of: ["dyn0", "dyn4"]))

                    // X-Config-Server-Dynamic-Streams: false refuses unknown names without asking.
                    backend.script.withLock { $0.headers = [("X-Config-Server-Dynamic-Streams", "false")] }
                    try await waitUntil("the node learns dynamic streams are off") {
                        node.configSync.status.capabilities.dynamicStreams == false
                    }
                    backend.clearLog()
                    #expect(try await httpStatus("http://127.0.0.1:\(port)/fresh/m4f") == 404)
                    #expect(!backend.requests.contains { $0.names.contains("fresh") })
                }
            }
        }

        @Test func aBackendDownForThirtySecondsRestartsNothing() async throws {
            try await withBackend { backend, control in
                let names = (0..<50).map { "cam\($0)" }
                backend.list(names) { idleStreamJSON($0, port: 36_000 + Int($0.dropFirst(3))!) }
                try await withNode(streams: [], logLevel: .critical, options: Self.driven(by: control.url)) { node, port in
                    try await waitUntil("50 streams run") { node.manager.externalStreamNames().count == 50 }
                    let before = Self.identities(node, names)
                    await control.stop()
                    let downSince = ContinuousClock.now
                    try await waitUntil("the node reports the backend down") {
                        node.configSync.status.error?.reason == .networkError
                    }
                    let report = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/config")
                    #expect(report.body.contains("\"config_external_error\""), "\(report.body)")
                    #expect(report.body.contains("network_error"), "\(report.body)")
                    // Watch the whole outage: nothing may stop or restart in it.
                    while ContinuousClock.now - downSince < .seconds(30) {
                        #expect(Self.identities(node, names) == before)
                        try await Task.sleep(for: .seconds(1))
                    }
                    let failures = node.configSync.status.failures
                    #expect(failures >= 3 && failures < 20, "\(failures) failed cycles in 30 s: retries do not back off")

                    try await control.start()
                    try await waitUntil("the first good answer clears the error", timeout: .seconds(20)) {
                        node.configSync.status.error == nil
                    }
                    #expect(Self.identities(node, names) == before)
                    let metrics = try await httpGet("http://127.0.0.1:\(port)/metrics").body
                    #expect(metrics.contains("estuary_config_external_requests_total{endpoint=\"streams\",outcome=\"network_error\"}"))
                    #expect(metrics.contains("estuary_streams{origin=\"external\"} 50"))
                }
            }
        }

        @Test func badAnswersAreReportedWithTheirReasonAndHurtNothing() async throws {
            try await withBackend { backend, control in
                backend.list(["a", "b"]) { idleStreamJSON($0, port: 37_000 + $0.count + Int($0.unicodeScalars.first!.value)) }
                try await withNode(
                    streams: [], logLevel: .critical, options: Self.driven(by: control.url, timeout: .seconds(1))
                ) { node, port in
                    try await waitUntil("a and b run") { node.manager.externalStreamNames().count == 2 }
                    let before = Self.identities(node, ["a", "b"])
                    let cases: [(ScriptedBackend.Mode, ConfigExternalReason)] = [
                        (.body("{\"streams\": [ {\"name\": "), .malformedJSON),
                        (.body("<html>oops</html>"), .malformedJSON),
                        (.body("{\"streams\": 42}"), .validationError),
                        (.status(500), .networkError),
                        (.status(403), .invalidRequest),
                        (.hang, .networkError),
                    ]
                    for (mode, reason) in cases {
                        backend.script.withLock { $0.mode = mode }
                        try await waitUntil("\(mode) is reported as \(reason.rawValue)") {
                            node.configSync.status.error?.reason == reason
                        }
                        #expect(Self.identities(node, ["a", "b"]) == before, "\(mode) changed the running streams")
                        backend.script.withLock { $0.mode = .normal }
                        try await waitUntil("a good answer clears \(reason.rawValue)") { node.configSync.status.error == nil }
                    }
                    let hung = node.configSync.status
                    #expect(hung.failures >= cases.count)

                    // One invalid entry: the others apply, the running stream keeps its old configuration.
                    backend.script.withLock { script in
                        script.listed = [
                            ("a", idleStreamJSON("a", port: 37_500)),
                            ("b", "{\"name\": \"b\", \"inputs\": [{\"url\": \"ftp://nowhere/b\"}]}"),
                            ("c", idleStreamJSON("c", port: 37_501)),
                        ]
                    }
                    try await waitUntil("the invalid entry is reported") { node.configSync.status.error?.reason == .validationError }
                    let error = try #require(node.configSync.status.error)
                    #expect(error.detail.contains("'b'") && error.detail.contains("inputs[0].url"), "\(error.detail)")
                    try await waitUntil("a is updated and c starts") {
                        node.manager.stream(named: "c") != nil
                            && node.manager.stream(named: "a")?.config.inputs.first?.url.contains("37500") == true
                    }
                    #expect(Self.identities(node, ["b"])["b"] == before["b"], "b was touched though its new entry is invalid")
                    let config = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/config").body
                    #expect(config.contains("validation_error"), "\(config)")
                }
            }
        }

        @Test func theAPIIsGuardedAndTheURLPersistsAcrossRestarts() async throws {
            try await withTemporaryDirectory { directory in
                try await withBackend { backend, control in
                    backend.list(["ext"]) { idleStreamJSON($0, port: 38_000) }
                    let file = [StreamConfig(name: "local", inputs: [InputConfig(url: "udp://127.0.0.1:38001", sourceTimeout: 600)])]
                    let configure: (inout NodeOptions) -> Void = { options in
                        options.stateDirectory = directory.path
                        options.configExternalInterval = .milliseconds(200) ... .milliseconds(300)
                    }
                    try await withNode(streams: file, logLevel: .error, options: configure) { node, port in
                        let api = "http://127.0.0.1:\(port)/streamer/api/v3"
                        // Without config_external the API manages streams.
                        let put = try await httpSend(.PUT, "\(api)/streams/mine", json: idleStreamJSON("mine", port: 38_002))
                        #expect(put.status == 200, "\(put.body)")
                        #expect(node.manager.stream(named: "mine")?.origin == .api)
                        let clash = try await httpSend(.PUT, "\(api)/streams/local", json: idleStreamJSON("local", port: 38_003))
                        #expect(clash.status == 409, "\(clash.body)")
                        let bad = try await httpSend(.PUT, "\(api)/streams/worse", json: "{\"inputs\": [{\"url\": \"ftp://x\"}]}")
                        #expect(bad.status == 400 && bad.body.contains("inputs[0].url"), "\(bad.body)")
                        #expect(try await httpSend(.DELETE, "\(api)/streams/mine").status == 204)
                        #expect(node.manager.stream(named: "mine") == nil)

                        // Set config_external through the API, with a key in the URL.
                        let withKey = control.url.replacingOccurrences(of: "http://", with: "http://s3cret@")
                        let invalid = try await httpSend(.PUT, "\(api)/config", json: "{\"config_external\": \"ftp://nope\"}")
                        #expect(invalid.status == 400, "\(invalid.body)")
                        let set = try await httpSend(.PUT, "\(api)/config", json: "{\"config_external\": \"\(withKey)\"}")
                        #expect(set.status == 200, "\(set.body)")
                        #expect(!set.body.contains("s3cret") && set.body.contains("\"config_external_source\":\"api\""), "\(set.body)")
                        try await waitUntil("the backend's stream runs") { node.manager.stream(named: "ext")?.origin == .external }
                        #expect(backend.requests.last?.authorization == "Bearer s3cret")

                        let refused = try await httpSend(.PUT, "\(api)/streams/mine", json: idleStreamJSON("mine", port: 38_002))
                        #expect(refused.status == 400 && refused.body.contains("config_external_enabled"), "\(refused.body)")
                        #expect(try await httpSend(.DELETE, "\(api)/streams/local").status == 400)
                    }
                    // A restart keeps the API's URL.
                    try await withNode(streams: file, logLevel: .error, options: configure) { node, port in
                        try await waitUntil("the backend's stream runs again") { node.manager.stream(named: "ext") != nil }
                        let api = "http://127.0.0.1:\(port)/streamer/api/v3"
                        // Removing the URL stops only the backend's streams.
                        let removed = try await httpSend(.PUT, "\(api)/config", json: "{\"config_external\": null}")
                        #expect(removed.status == 200, "\(removed.body)")
                        try await waitUntil("the backend's stream stops") { node.manager.stream(named: "ext") == nil }
                        #expect(node.manager.stream(named: "local")?.origin == .file)
                    }
                    // The environment wins over the API's value.
                    try await withNode(
                        streams: file, logLevel: .error,
                        options: { options in
                            configure(&options)
                            options.configExternalOverride = control.url
                        }
                    ) { node, port in
                        _ = try await httpSend(
                            .PUT, "http://127.0.0.1:\(port)/streamer/api/v3/config",
                            json: "{\"config_external\": \"http://127.0.0.1:1/streams\"}")
                        let report = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/config").body
                        #expect(report.contains("\"config_external_source\":\"env\""), "\(report)")
                        try await waitUntil("the env's backend drives the node") { node.manager.stream(named: "ext") != nil }
                    }
                    // The YAML line applies when neither the environment nor the API set one.
                    try await withNode(
                        streams: file, logLevel: .error,
                        options: { options in
                            configure(&options)
                            options.configExternalFile = control.url
                        }
                    ) { node, port in
                        _ = try await httpSend(.PUT, "http://127.0.0.1:\(port)/streamer/api/v3/config", json: "{\"config_external\": null}")
                        try await waitUntil("the file's backend drives the node") { node.manager.stream(named: "ext") != nil }
                        let report = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/config").body
                        #expect(report.contains("\"config_external_source\":\"file\""), "\(report)")
                    }
                }
            }
        }

        @Test func aNameDefinedInTheFileAndTheBackendIsReported() async throws {
            try await withBackend { backend, control in
                backend.list(["shared", "theirs"]) { idleStreamJSON($0, port: 39_000 + $0.count) }
                let file = [StreamConfig(name: "shared", inputs: [InputConfig(url: "udp://127.0.0.1:39100", sourceTimeout: 600)])]
                try await withNode(streams: file, logLevel: .critical, options: Self.driven(by: control.url)) { node, _ in
                    try await waitUntil("the backend's own stream runs") { node.manager.stream(named: "theirs") != nil }
                    try await waitUntil("the double definition is reported") {
                        node.configSync.status.error?.detail.contains("'shared'") == true
                    }
                    #expect(node.configSync.status.error?.reason == .validationError)
                    let shared = try #require(node.manager.stream(named: "shared"))
                    #expect(shared.origin == .file)
                    #expect(shared.config.inputs.first?.url == "udp://127.0.0.1:39100")
                }
            }
        }
    }
}
