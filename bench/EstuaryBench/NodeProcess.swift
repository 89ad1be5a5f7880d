import Dispatch
import Foundation
import Glibc
import NIOCore
import Synchronization

/// One `ingest-node` process the bench starts, measures and stops.
///
/// The node listens on a free port; the bench talks to it on 127.0.0.1 only. Its output goes
/// to a log file in the scratch directory (a pipe nobody reads would stall it).
final class NodeProcess {
    let label: String
    let port: Int
    let pid: pid_t
    let logPath: String
    private let process: Process

    /// Starts `binary --config <label>.yaml --http-port <port> --state-dir …` in `directory` (a free port
    /// unless one is given).
    convenience init(
        label: String, binary: String, yaml: String, directory: URL, environment extra: [String: String] = [:], port: Int? = nil
    ) throws {
        let port = try port ?? freeTCPPort()
        let configPath = directory.appendingPathComponent("\(label).yaml").path
        let stateDirectory = directory.appendingPathComponent("\(label)-state").path
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        try self.init(
            label: label, binary: binary, arguments: ["--config", configPath, "--http-port", "\(port)", "--state-dir", stateDirectory],
            directory: directory, environment: extra, port: port)
    }

    /// Starts `binary arguments…` whose HTTP listener (with `/healthz`) is on `port`.
    init(label: String, binary: String, arguments: [String], directory: URL, environment extra: [String: String] = [:], port: Int) throws {
        self.label = label
        self.port = port
        self.logPath = directory.appendingPathComponent("\(label).log").path
        guard FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) else {
            throw BenchError("cannot create the node log \(logPath)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for key in ["STREAMER_CONFIG_EXTERNAL", "ESTUARY_CONFIG", "ESTUARY_CLUSTER_KEY", "ESTUARY_HTTP_PORT", "ESTUARY_STATE_DIR"] {
            environment.removeValue(forKey: key)
        }
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
        } catch {
            throw BenchError("cannot start \(binary): \(error)")
        }
        self.process = process
        self.pid = process.processIdentifier
        SpawnedNodes.shared.add(pid)
    }

    var isRunning: Bool { process.isRunning }

    /// Waits until `GET /healthz` answers 200, the process dies, or `timeout` passes.
    func waitHealthy(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw BenchError("node \(label) exited at start; see \(logPath):\n\(logTail())") }
            if let response = try? await HTTPGet.fetch(port: port, path: "/healthz", timeout: .seconds(1)), response.status == 200 {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("node \(label) did not answer /healthz within \(timeout); see \(logPath)")
    }

    /// Waits until the node answers `/healthz` and every named stream is alive.
    /// - Throws: ``BenchError`` naming the first thing that did not happen within `timeout`.
    func waitServing(_ names: [String], timeout: Duration = .seconds(15)) async throws {
        try await waitHealthy()
        let alive = await waitAlive(names, timeout: timeout)
        guard alive == names.count else {
            throw BenchError("node \(label): \(alive) of \(names.count) streams alive after \(timeout); see \(logPath)")
        }
    }

    /// Waits until every named stream reports `alive` in the API; returns how many do.
    @discardableResult
    func waitAlive(_ names: [String], timeout: Duration) async -> Int {
        let deadline = ContinuousClock.now + timeout
        var alive = 0
        while ContinuousClock.now < deadline {
            alive = (try? await aliveCount(names)) ?? 0
            if alive == names.count { return alive }
            try? await Task.sleep(for: .milliseconds(250))
        }
        return alive
    }

    /// How many of the named streams the API reports alive.
    func aliveCount(_ names: [String]) async throws -> Int {
        let wanted = Set(names)
        return try await streams().filter { wanted.contains($0.name) && $0.stats.alive }.count
    }

    /// `GET /streamer/api/v3/streams`.
    func streams() async throws -> [StreamInfo] {
        let response = try await HTTPGet.fetch(port: port, path: "/streamer/api/v3/streams", timeout: .seconds(10))
        guard response.status == 200 else { throw BenchError("stream list answered \(response.status)") }
        return try StreamInfo.decoder.decode(StreamList.self, from: Data(response.body.readableBytesView)).streams
    }

    /// `GET /streamer/api/v3/streams/{name}`.
    func stream(_ name: String) async throws -> StreamInfo {
        let response = try await HTTPGet.fetch(port: port, path: "/streamer/api/v3/streams/\(name)", timeout: .seconds(10))
        guard response.status == 200 else { throw BenchError("stream \(name) answered \(response.status)") }
        return try StreamInfo.decoder.decode(StreamInfo.self, from: Data(response.body.readableBytesView))
    }

    var cpuSeconds: Double { ProcFS.cpuSeconds(pid: pid) ?? 0 }
    var residentBytes: Int { ProcFS.residentBytes(pid: pid) ?? 0 }
    var threadCPUSeconds: [String: Double] { ProcFS.threadCPUSeconds(pid: pid) }

    /// SIGTERM, up to `grace` for a graceful exit, then SIGKILL. Signals this process's PID only.
    func stop(grace: Duration = .seconds(12)) async {
        defer { SpawnedNodes.shared.remove(pid) }
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            note("node \(label) (pid \(pid)) still running \(grace) after SIGTERM; sending SIGKILL")
            kill(pid, SIGKILL)
            let killDeadline = ContinuousClock.now + .seconds(5)
            while process.isRunning, ContinuousClock.now < killDeadline {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// The last lines of the node's log.
    func logTail(lines: Int = 15) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// The PIDs of nodes still running, so that Ctrl-C or SIGTERM to the bench stops them too.
final class SpawnedNodes: Sendable {
    static let shared = SpawnedNodes()
    private let pids = Mutex<Set<pid_t>>([])

    func add(_ pid: pid_t) { pids.withLock { _ = $0.insert(pid) } }
    func remove(_ pid: pid_t) { pids.withLock { _ = $0.remove(pid) } }

    /// Installs SIGINT/SIGTERM handlers that kill every spawned node (by PID) and exit.
    func installSignalHandlers() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                let running = pids.withLock { $0 }
                for pid in running { kill(pid, SIGKILL) }
                note("interrupted; killed \(running.count) node(s)")
                exit(130)
            }
            source.resume()
            signalSources.append(source)
        }
    }
}

/// The signal sources must outlive the call that installs them; written once, at start.
nonisolated(unsafe) private var signalSources: [any DispatchSourceSignal] = []

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw BenchError("bind() failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw BenchError("getsockname() failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `GET /streamer/api/v3/streams` as the bench reads it.
struct StreamList: Decodable {
    var streams: [StreamInfo]
}

/// One stream of the API (the fields the bench reads).
struct StreamInfo: Decodable {
    struct Stats: Decodable {
        var alive: Bool
        var inputBitrate: Int64
        var bytesIn: UInt64
        var onlineClients: Int
        var skippedFragments: UInt64
        var disconnectedClients: UInt64
        var sourceReconnects: Int
        var timestampDiscontinuities: Int
    }

    struct Input: Decodable {
        var url: String
    }

    var name: String
    var inputs: [Input]
    var stats: Stats

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

/// A scratch directory for node configurations and logs, removed at the end unless kept.
struct ScratchDirectory {
    let url: URL

    init(prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-bench-\(prefix)-\(getpid())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove(keep: Bool) {
        if keep {
            note("scratch files kept in \(url.path)")
        } else {
            try? FileManager.default.removeItem(at: url)
        }
    }
}
