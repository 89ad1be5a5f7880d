import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// `config`: a config_external backend with 10,000 streams, 1,000 of them for the node: time to converge
/// after one stream's configuration changes, requests and bytes per idle cycle, node CPU per cycle.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "config_external at scale: convergence after one change, requests/bytes and node CPU per idle cycle.")

    @Option(help: "Streams the backend knows.")
    var backendStreams = 10_000

    @Option(help: "Of those, streams assigned to the node.")
    var nodeStreams = 1_000

    @Option(help: "Idle window for the per-cycle figures, seconds.")
    var seconds = 30

    @Option(help: "How many single-stream changes to time.")
    var changes = 10

    @Option(help: "UDP port of the first stream's (idle) input.")
    var basePort = 40_000

    @OptionGroup var node: NodeBinaryOptions

    func run() async throws {
        ProcFS.raiseOpenFilesLimit()
        SpawnedNodes.shared.installSignalHandlers()
        guard nodeStreams <= backendStreams, nodeStreams > 0 else { throw BenchError("--node-streams must be within 1…--backend-streams") }
        let binary = try node.resolvedNodeBinary()
        let backend = BenchBackend(total: backendStreams, assigned: nodeStreams, host: "bench-node", basePort: basePort)
        let scratch = try ScratchDirectory(prefix: "config")
        var failed = false
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (ports, continuation) = AsyncStream<Int>.makeStream()
            group.addTask { try await backend.run { continuation.yield($0) } }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw BenchError("the backend did not start") }
            do {
                try await measure(backend: backend, backendPort: port, binary: binary, scratch: scratch)
            } catch {
                failed = true
                report("config error=\"\(error)\"")
            }
            group.cancelAll()
        }
        scratch.remove(keep: node.keepFiles || failed)
        if failed { throw ExitCode(1) }
    }

    private func measure(backend: BenchBackend, backendPort: Int, binary: String, scratch: ScratchDirectory) async throws {
        let started = ContinuousClock.now
        let node = try NodeProcess(
            label: "config", binary: binary, yaml: "streams: []\n", directory: scratch.url,
            environment: ["STREAMER_CONFIG_EXTERNAL": "http://127.0.0.1:\(backendPort)/streams", "HOSTNAME": "bench-node"])
        let idle: (cpuSeconds: Double, cycles: Int)
        do {
            idle = try await measure(node: node, backend: backend, started: started)
            await node.stop()
        } catch {
            await node.stop()
            throw error
        }
        // The same streams from a YAML file, no backend: what the idle streams cost by themselves.
        var yaml = "streams:\n"
        for index in 0..<nodeStreams {
            yaml +=
                "  - {name: b\(index), inputs: [{url: \"udp://127.0.0.1:\(basePort + backendStreams + 100 + index)\", source_timeout: 600}]}\n"
        }
        let baseline = try NodeProcess(label: "baseline", binary: binary, yaml: yaml, directory: scratch.url)
        do {
            try await baseline.waitHealthy()
            try await Task.sleep(for: .seconds(3))
            let cpuBefore = baseline.cpuSeconds
            try await Task.sleep(for: .seconds(seconds))
            let cpu = baseline.cpuSeconds - cpuBefore
            await baseline.stop()
            report(
                "config baseline_without_backend node_cpu_percent=\(fixed(cpu * 100 / Double(seconds), 2)) "
                    + "config_cpu_ms_per_cycle=\(fixed(max(0, idle.cpuSeconds - cpu) * 1000 / Double(idle.cycles), 1)) "
                    + "config_cpu_percent=\(fixed(max(0, idle.cpuSeconds - cpu) * 100 / Double(seconds), 2))")
        } catch {
            await baseline.stop()
            throw error
        }
    }

    /// Start-up, the idle window and the single-stream changes; returns the idle window's node CPU and cycles.
    private func measure(
        node: NodeProcess, backend: BenchBackend, started: ContinuousClock.Instant
    ) async throws -> (
        cpuSeconds: Double, cycles: Int
    ) {
        try await node.waitHealthy()
        let deadline = ContinuousClock.now + .seconds(120)
        var running = 0
        while ContinuousClock.now < deadline {
            running = (try? await node.streams().count) ?? 0
            if running == nodeStreams { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard running == nodeStreams else { throw BenchError("\(running) of \(nodeStreams) streams run after 120 s; see \(node.logPath)") }
        report(
            "config backend_streams=\(backendStreams) node_streams=\(nodeStreams) start_to_all_running_s=\(fixed(elapsedSeconds(.now - started), 2)) "
                + "node_rss_mb=\(fixed(Double(node.residentBytes) / 1e6, 1))")

        // Idle: nothing changes; count what one cycle costs.
        try await Task.sleep(for: .seconds(3))
        let before = backend.counters
        let cpuBefore = node.cpuSeconds
        try await Task.sleep(for: .seconds(seconds))
        let after = backend.counters
        let cpu = node.cpuSeconds - cpuBefore
        let cycles = max(1, after.listCycles - before.listCycles)
        report(
            "config idle seconds=\(seconds) cycles=\(cycles) cycle_interval_s=\(fixed(Double(seconds) / Double(cycles), 2)) "
                + "requests_per_cycle=\(fixed(Double(after.requests - before.requests) / Double(cycles), 2)) "
                + "bytes_per_cycle=\(fixed(Double(after.bytes - before.bytes) / Double(cycles), 0)) "
                + "node_cpu_ms_per_cycle=\(fixed(cpu * 1000 / Double(cycles), 1)) node_cpu_percent=\(fixed(cpu * 100 / Double(seconds), 2))"
        )

        // One stream's configuration changes: how long until the node runs the new one.
        var delays: [Double] = []
        for change in 0..<changes {
            let index = (change * 7919) % nodeStreams
            let name = backend.assignedName(index)
            let newPort = basePort + backendStreams + change
            backend.changeInput(of: name, toPort: newPort)
            let changedAt = ContinuousClock.now
            let limit = changedAt + .seconds(20)
            var converged = false
            while ContinuousClock.now < limit {
                if let stream = try? await node.stream(name), stream.inputs.first?.url.hasSuffix(":\(newPort)") == true {
                    converged = true
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            guard converged else { throw BenchError("\(name) did not take its new configuration within 20 s") }
            delays.append(elapsedSeconds(.now - changedAt))
            // Land the next change at a random point of the cycle.
            try await Task.sleep(for: .milliseconds(Int64.random(in: 300...1700)))
        }
        let sorted = delays.sorted()
        report(
            "config converge changes=\(changes) median_s=\(fixed(sorted[sorted.count / 2], 2)) max_s=\(fixed(sorted.last ?? 0, 2)) "
                + "target_max_s=3 \((sorted.last ?? 99) < 3 ? "MET" : "MISSED")")
        let untouched = try await node.streams().filter { $0.stats.sourceReconnects > 0 }.count
        report("config streams_reconnected=\(untouched) (0 expected: unchanged streams are never touched)")
        return (cpu, cycles)
    }
}

/// The benchmark's configuration backend: `total` streams, every `total/assigned`-th one listed for `host`.
final class BenchBackend: Sendable {
    struct Counters: Sendable {
        var listCycles = 0
        var requests = 0
        var bytes = 0
    }

    let total: Int
    let assigned: Int
    let host: String
    let basePort: Int
    private let ports: Mutex<[Int]>
    private let counting = Mutex(Counters())

    init(total: Int, assigned: Int, host: String, basePort: Int) {
        self.total = total
        self.assigned = assigned
        self.host = host
        self.basePort = basePort
        self.ports = Mutex((0..<total).map { basePort + $0 })
    }

    var counters: Counters { counting.withLock { $0 } }

    /// The name of the node's `index`-th stream.
    func assignedName(_ index: Int) -> String { "ch\(index * (total / assigned))" }

    func changeInput(of name: String, toPort port: Int) {
        guard let index = Int(name.dropFirst(2)) else { return }
        ports.withLock { $0[index] = port }
    }

    private func json(_ index: Int, port: Int) -> String {
        "{\"name\":\"ch\(index)\",\"inputs\":[{\"url\":\"udp://127.0.0.1:\(port)\",\"source_timeout\":600}],"
            + "\"cluster_ingest\":{\"capture_at\":\"\(index % (total / assigned) == 0 ? host : "other")\"}}"
    }

    func run(ready: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router(context: BasicRequestContext.self)
        router.get("/streams") { request, _ -> Response in
            let query = request.uri.queryParameters
            let body: String
            let ports = self.ports.withLock { $0 }
            let step = self.total / self.assigned
            if let names = query["name"] {
                let found = names.split(separator: ",").compactMap { name -> String? in
                    guard name.hasPrefix("ch"), let index = Int(name.dropFirst(2)), index < self.total else { return nil }
                    return self.json(index, port: ports[index])
                }
                body = "{\"streams\":[\(found.joined(separator: ","))]}"
            } else {
                let mine = query["host"].map(String.init) == self.host
                let listed =
                    mine ? stride(from: 0, to: self.total, by: step).prefix(self.assigned).map { self.json($0, port: ports[$0]) } : []
                body = "{\"streams\":[\(listed.joined(separator: ","))],\"next\":null}"
            }
            self.counting.withLock { counters in
                counters.requests += 1
                counters.bytes += body.utf8.count
                if query["name"] == nil { counters.listCycles += 1 }
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        var logger = Logger(label: "bench.backend")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { ready($0.localAddress?.port ?? 0) }, logger: logger)
        try await app.run()
    }
}
