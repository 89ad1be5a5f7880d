import EstuaryConfig
import EstuaryConfigExternal
import EstuaryTestSupport
import Synchronization
import Testing

@Suite struct DynamicStreamResolverTests {
    /// A backend that knows `known` and records every batch it is asked.
    final class Backend: Sendable {
        let known: Set<String>
        let failing: Bool
        let batches = Mutex<[[String]]>([])

        init(known: Set<String>, failing: Bool = false) {
            self.known = known
            self.failing = failing
        }

        func fetch(_ names: [String]) async -> Result<BackendStreamAnswer, ConfigExternalError> {
            batches.withLock { $0.append(names) }
            if failing { return .failure(ConfigExternalError(.networkError, "connection refused")) }
            let streams = names.filter(known.contains).map { StreamConfig(name: $0, inputs: [InputConfig(url: "fake://\($0)")]) }
            return .success(BackendStreamAnswer(streams: streams, requests: 1))
        }
    }

    /// Runs the resolver while `body` runs.
    func withResolver<T: Sendable>(
        _ resolver: DynamicStreamResolver, _ backend: Backend, _ body: () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await resolver.run(fetch: backend.fetch) }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    @Test func nearSimultaneousRequestsShareOneBackendCall() async throws {
        let backend = Backend(known: ["a0", "a1", "a2", "a3", "a4"])
        let resolver = DynamicStreamResolver(batchWindow: .milliseconds(50))
        let results = try await withResolver(resolver, backend) {
            await withTaskGroup(of: (String, DynamicStreamResolver.Resolution).self) { group in
                for index in 0..<10 {
                    let name = index < 5 ? "a\(index)" : "b\(index)"
                    group.addTask { (name, await resolver.resolve(name)) }
                }
                // The same name twice in one window is asked once.
                group.addTask { ("a0", await resolver.resolve("a0")) }
                var results: [String: [DynamicStreamResolver.Resolution]] = [:]
                for await (name, result) in group { results[name, default: []].append(result) }
                return results
            }
        }
        let batches = backend.batches.withLock { $0 }
        #expect(batches.count <= 2, "\(batches.count) backend calls for 10 names: \(batches)")
        #expect(batches.flatMap { $0 }.count == 10, "a name was asked twice: \(batches)")
        for index in 0..<5 {
            for result in results["a\(index)"] ?? [] {
                guard case .found(let config) = result else {
                    Issue.record("a\(index): \(result)")
                    continue
                }
                #expect(config.name == "a\(index)")
            }
        }
        for index in 5..<10 { #expect(results["b\(index)"] == [.notFound]) }
    }

    @Test func aNegativeAnswerIsRememberedForItsTTL() async throws {
        let backend = Backend(known: [])
        // A clock moved by hand: a loaded machine cannot make the TTL run out between two lines.
        let clock = Mutex(ContinuousClock.now)
        let resolver = DynamicStreamResolver(
            batchWindow: .milliseconds(10), negativeTTL: .seconds(3), now: { clock.withLock { $0 } })
        try await withResolver(resolver, backend) {
            #expect(await resolver.resolve("scan1") == .notFound)
            #expect(resolver.isKnownMissing("scan1"))
            clock.withLock { $0 += .milliseconds(2_900) }
            for _ in 0..<20 { #expect(await resolver.resolve("scan1") == .notFound) }
            #expect(resolver.isKnownMissing("scan1"))
            #expect(backend.batches.withLock { $0.count } == 1, "the backend was asked again within the TTL")
            clock.withLock { $0 += .milliseconds(200) }
            #expect(!resolver.isKnownMissing("scan1"), "the negative answer outlived its TTL")
            #expect(await resolver.resolve("scan1") == .notFound)
            #expect(backend.batches.withLock { $0.count } == 2)
        }
    }

    @Test func aFailureIsReportedAndNotCached() async throws {
        let backend = Backend(known: ["a"], failing: true)
        let resolver = DynamicStreamResolver(batchWindow: .milliseconds(10))
        try await withResolver(resolver, backend) {
            guard case .failed(let error) = await resolver.resolve("a") else {
                Issue.record("a failing backend did not fail the request")
                return
            }
            #expect(error.reason == .networkError)
            #expect(!resolver.isKnownMissing("a"))
            _ = await resolver.resolve("a")
            #expect(backend.batches.withLock { $0.count } == 2)
        }
    }

    @Test func theNegativeCacheIsBounded() async throws {
        let backend = Backend(known: [])
        let resolver = DynamicStreamResolver(batchWindow: .milliseconds(5), negativeTTL: .seconds(60), negativeCacheLimit: 50)
        try await withResolver(resolver, backend) {
            for index in 0..<120 { _ = await resolver.resolve("scan\(index)") }
            let remembered = (0..<120).count { resolver.isKnownMissing("scan\($0)") }
            #expect(remembered <= 50 && remembered > 0, "\(remembered) names remembered")
            #expect(resolver.isKnownMissing("scan119"), "the newest answer was dropped")
        }
    }

    @Test func stoppingTheResolverAnswersEveryWaiter() async throws {
        let resolver = DynamicStreamResolver(batchWindow: .seconds(30))
        let backend = Backend(known: ["a"])
        let running = Task { await resolver.run(fetch: backend.fetch) }
        let waiter = Task { await resolver.resolve("a") }
        // Whether the request is queued before or after the stop, it must be answered.
        running.cancel()
        await running.value
        guard case .failed = await waiter.value else {
            Issue.record("the waiter was not failed")
            return
        }
        #expect(backend.batches.withLock { $0.isEmpty })
    }
}
