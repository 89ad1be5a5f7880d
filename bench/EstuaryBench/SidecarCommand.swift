import ArgumentParser
import AsyncHTTPClient
import EstuarySidecar
import EstuaryTestSupport
import Foundation
import Logging
import NIOCore

/// `sidecar`: many `config-sidecar` processes (their nodes simulated: `--node-url ""` reports them ready, with no
/// load) on one PostgreSQL with many streams: time to a balanced assignment, PostgreSQL transactions per second
/// at steady state, `GET /streams` latency, and failover time after one sidecar is killed with SIGKILL.
struct SidecarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar",
        abstract: "Capture-once at scale: balance time, failover time, PostgreSQL load and config_external latency of many sidecars.")

    @Option(help: "Sidecars (one simulated node each).") var sidecars = 50
    @Option(help: "Streams in the central database.") var streams = 10_000
    @Option(help: "An existing PostgreSQL URL; by default a throwaway cluster is started (Debian's binaries).") var postgres: String?
    @Option(help: "Steady-state window for the PostgreSQL load, seconds.") var seconds = 10
    @Option(help: "GET /streams requests for the latency figures.") var requests = 5_000
    @Flag(inversion: .prefixedNo, help: "Give each sidecar its SQLite replica file, as in production (k8s sets SIDECAR_REPLICA).")
    var replica = true
    @Option(help: "The sidecars' LOG_LEVEL (info logs every claim and handover; keep the files with --keep-files).")
    var sidecarLogLevel = "warning"
    @OptionGroup var binaries: NodeBinaryOptions

    func run() async throws {
        var server: PostgresServer?
        let url: String
        if let postgres {
            url = postgres
        } else {
            let started = try PostgresServer.start(port: 45_432)
            server = started
            url = started.url
        }
        defer { server?.destroy() }
        var logger = Logger(label: "bench.sidecar")
        logger.logLevel = .error
        let link = PostgresLink(settings: try PostgresURL(url), logger: logger)
        _ = try await link.connection()
        let psql: (String) throws -> String = { sql in
            guard let server else { throw BenchError("--postgres given: prepare the rows yourself") }
            return try server.psql(sql)
        }
        _ = try psql(
            """
            INSERT INTO estuary_streams(name, config) SELECT 'b' || g,
              json_build_object('name', 'b' || g, 'inputs', json_build_array(json_build_object('url', 'fake://b' || g)))::jsonb
            FROM generate_series(1, \(streams)) g
            """)
        note("\(streams) streams in PostgreSQL; starting \(sidecars) sidecars")
        let binary = try binaries.resolvedNodeBinary("config-sidecar")
        let scratch = try ScratchDirectory(prefix: "sidecar")
        SpawnedNodes.shared.installSignalHandlers()
        var processes: [NodeProcess] = []
        defer {
            for process in processes where process.isRunning { kill(process.pid, SIGKILL) }
            scratch.remove(keep: binaries.keepFiles)
        }
        let started = ContinuousClock.now
        var used = Set<Int>()
        for index in 0..<sidecars {
            var port = try freeTCPPort()
            while used.contains(port) { port = try freeTCPPort() }
            used.insert(port)
            processes.append(
                try NodeProcess(
                    label: "sidecar-\(index)", binary: binary,
                    arguments: [
                        "--listen", "127.0.0.1:\(port)", "--upstream", url, "--hostname", "node-\(index)",
                        "--advertise", "127.0.0.1:\(20_000 + index)", "--node-url", "",
                    ] + (replica ? ["--replica", scratch.url.appendingPathComponent("replica-\(index).sqlite").path] : []),
                    directory: scratch.url, environment: ["LOG_LEVEL": sidecarLogLevel], port: port))
        }
        do {
            for process in processes { try await process.waitHealthy() }
            let healthy = ContinuousClock.now - started
            var allLeased: Duration?
            var leasedCPU: Double?
            let ports = processes.map(\.port)
            // 1. Balance: every stream leased, every node within ±10 % of even.
            let even = Double(streams) / Double(sidecars)
            var balanced: Duration?
            var last = ""
            while ContinuousClock.now - started < .seconds(600) {
                let counts = try psql(
                    "SELECT coalesce(min(c), 0) || ' ' || coalesce(max(c), 0) || ' ' || coalesce(sum(c), 0) || ' ' || count(*) FROM (SELECT count(*) c FROM estuary_leases WHERE node <> '' GROUP BY node) t"
                )
                .split(separator: " ").compactMap { Int($0) }
                last = "min=\(counts[0]) max=\(counts[1]) leased=\(counts[2]) nodes=\(counts[3])"
                if allLeased == nil, counts[2] == streams {
                    allLeased = ContinuousClock.now - started
                    // The sidecars' CPU up to here: mostly each one's start-up read of every stream, then planning.
                    let cpu = processes.compactMap { ProcFS.cpuSeconds(pid: $0.pid) }.reduce(0, +)
                    leasedCPU = cpu / Double(sidecars)
                }
                if counts[2] == streams, counts[3] == sidecars, Double(counts[0]) >= even * 0.9, Double(counts[1]) <= even * 1.1 {
                    balanced = ContinuousClock.now - started
                    break
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            guard let balanced else { throw BenchError("no balanced assignment within 600 s: \(last)") }
            report(
                "sidecar balance sidecars=\(sidecars) streams=\(streams) seconds=\(fixed(elapsedSeconds(balanced), 2)) \(last) "
                    + "target_seconds=10 \(balanced < .seconds(10) ? "MET" : "MISSED")")
            report(
                "sidecar balance_phases all_healthy_s=\(fixed(elapsedSeconds(healthy), 2)) "
                    + "all_leased_s=\(fixed(elapsedSeconds(allLeased ?? balanced), 2)) balanced_s=\(fixed(elapsedSeconds(balanced), 2)) "
                    + "cpu_s_per_sidecar_until_all_leased=\(leasedCPU.map { fixed($0, 3) } ?? "?")")

            // 2. Steady state: PostgreSQL transactions per second, while nothing changes.
            try await Task.sleep(for: .seconds(3))
            // Each sidecar's lease view against PostgreSQL's rows: a view missing rows plans from a wrong load
            // (take-overs that disagree) and claims streams others hold.
            let rows = try psql("SELECT string_agg(stream || '=' || node, ',') FROM estuary_leases WHERE node <> ''")
            let truth = Dictionary(
                rows.split(separator: ",").compactMap { pair -> (String, String)? in
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
                }, uniquingKeysWith: { first, _ in first })
            var wrongViews = 0
            var wrongRows = 0
            for process in processes {
                let answer = try await HTTPGet.fetch(port: process.port, path: "/admin/assignments", timeout: .seconds(5))
                let object = try JSONSerialization.jsonObject(with: Data(answer.body.readableBytesView)) as? [String: Any]
                var view: [String: String] = [:]
                for entry in object?["assignments"] as? [[String: Any]] ?? [] {
                    if let stream = entry["stream"] as? String, let node = entry["node"] as? String, !node.isEmpty { view[stream] = node }
                }
                let wrong = Set(truth.keys).union(view.keys).count { truth[$0] != view[$0] }
                if wrong > 0 { wrongViews += 1 }
                wrongRows += wrong
            }
            report("sidecar lease_views sidecars_differing_from_postgres=\(wrongViews) rows_differing=\(wrongRows)")
            let before = try psql("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
            try await Task.sleep(for: .seconds(seconds))
            let after = try psql("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
            let qps = Double((Int(after) ?? 0) - (Int(before) ?? 0)) / Double(seconds)
            report("sidecar steady_state postgres_transactions_per_second=\(fixed(qps, 1)) per_sidecar=\(fixed(qps / Double(sidecars), 2))")

            // 3. config_external latency: GET /streams?host=H on every sidecar in turn.
            var latencies: [Double] = []
            latencies.reserveCapacity(requests)
            // The requests after each sidecar's first, whose connection is open (a node polls over one it keeps).
            var onOpenConnection: [Double] = []
            // The slowest requests, with the sidecar asked and when: whether the slow ones share a sidecar or a moment.
            var slowest: [(ms: Double, sidecar: Int, at: Double)] = []
            let phase = ContinuousClock.now
            for index in 0..<requests {
                let port = ports[index % ports.count]
                let begin = ContinuousClock.now
                let response = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: "http://127.0.0.1:\(port)/streams?host=node-\(index % ports.count)"), timeout: .seconds(5))
                _ = try await response.body.collect(upTo: 64 << 20)
                let milliseconds = elapsedSeconds(ContinuousClock.now - begin) * 1000
                latencies.append(milliseconds)
                if index >= ports.count { onOpenConnection.append(milliseconds) }
                slowest.append((milliseconds, index % ports.count, elapsedSeconds(begin - phase)))
                if slowest.count > 40 {
                    slowest.sort { $0.ms > $1.ms }
                    slowest.removeLast(slowest.count - 20)
                }
            }
            slowest.sort { $0.ms > $1.ms }
            note(
                "slowest GET /streams (ms@sidecar+seconds): "
                    + slowest.prefix(20).map { "\(fixed($0.ms, 1))@\($0.sidecar)+\(fixed($0.at, 2))" }.joined(separator: " "))
            latencies.sort()
            let p50 = latencies[latencies.count / 2]
            let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
            report(
                "sidecar get_streams requests=\(requests) p50_ms=\(fixed(p50, 2)) p99_ms=\(fixed(p99, 2)) max_ms=\(fixed(latencies.last ?? 0, 2)) "
                    + "target_p99_ms=5 \(p99 < 5 ? "MET" : "MISSED")")
            onOpenConnection.sort()
            if !onOpenConnection.isEmpty {
                report(
                    "sidecar get_streams_open_connection requests=\(onOpenConnection.count) "
                        + "p50_ms=\(fixed(onOpenConnection[onOpenConnection.count / 2], 2)) "
                        + "p99_ms=\(fixed(onOpenConnection[min(onOpenConnection.count - 1, onOpenConnection.count * 99 / 100)], 2)) "
                        + "max_ms=\(fixed(onOpenConnection.last ?? 0, 2)) (each sidecar's first request, which opens the connection, left out)"
                )
            }

            // 4. Failover: one sidecar (its node) dies; its streams are leased elsewhere.
            let victim = "node-\(sidecars - 1)"
            let held = try psql("SELECT count(*) FROM estuary_leases WHERE node = '\(victim)'")
            let killed = ContinuousClock.now
            kill(processes[sidecars - 1].pid, SIGKILL)
            var failover: Duration?
            // How many of its streams the dead node still holds, each time that changes: one wave of take-overs,
            // or stragglers left to a later pass.
            var timeline: [String] = []
            var lastLeft = ""
            defer { note("failover streams left on the dead node (count@seconds): \(timeline.joined(separator: " "))") }
            while ContinuousClock.now - killed < .seconds(60) {
                let left = try psql("SELECT count(*) FROM estuary_leases WHERE node = '\(victim)'")
                if left != lastLeft {
                    timeline.append("\(left)@\(fixed(elapsedSeconds(ContinuousClock.now - killed), 2))")
                    lastLeft = left
                }
                if left == "0",
                    try psql("SELECT count(*) FROM estuary_leases WHERE node <> ''") == "\(streams)"
                {
                    failover = ContinuousClock.now - killed
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            guard let failover else {
                let left = try psql("SELECT count(*) FROM estuary_leases WHERE node = '\(victim)'")
                report("sidecar failover streams_moved=\(held) not_taken_over_after_60s=\(left) target_seconds=5 MISSED")
                throw BenchError("the dead sidecar's streams were not taken over within 60 s")
            }
            report(
                "sidecar failover streams_moved=\(held) seconds=\(fixed(elapsedSeconds(failover), 2)) "
                    + "(leases; the node applies them on its next cycle, 1 s) target_seconds=5 \(failover < .seconds(4) ? "MET" : "MISSED")"
            )
            let resident = processes.dropLast().map(\.residentBytes).reduce(0, +)
            report("sidecar memory rss_mb_per_sidecar=\(fixed(Double(resident) / Double(max(1, sidecars - 1)) / 1e6, 1))")
        } catch {
            await link.close()
            throw error
        }
        await link.close()
    }
}
