import Foundation

/// A throwaway PostgreSQL cluster for tests, from Debian's binaries: `initdb` into a temporary directory, a
/// free port on 127.0.0.1, trust authentication, fsync off. As root the server runs as the `postgres` user
/// (PostgreSQL refuses root). Tests that need it run when the binaries exist, or always with
/// `ESTUARY_REQUIRE_POSTGRES=1` (CI), where a missing server fails instead of skipping.
public final class PostgresServer: Sendable {
    /// Why a PostgreSQL tool failed.
    public struct ServerError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static let required = ProcessInfo.processInfo.environment["ESTUARY_REQUIRE_POSTGRES"] == "1"
    /// The directory holding `initdb` and `pg_ctl`, if installed.
    public static let binaries: String? = {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let bin = "\(root)/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: "\(bin)/pg_ctl") { return bin }
        }
        return nil
    }()
    /// The condition for `@Test(.enabled(if: PostgresServer.enabled))`.
    public static let enabled = binaries != nil || required

    /// The server's port on 127.0.0.1.
    public let port: Int
    /// The data directory.
    public let directory: String
    private let bin: String
    private let asRoot: Bool

    /// `postgres://estuary@127.0.0.1:PORT/estuary`.
    public var url: String { "postgres://estuary@127.0.0.1:\(port)/estuary" }

    /// Creates and starts a cluster with a database `estuary` owned by the user `estuary`.
    public static func start(port: Int) throws -> PostgresServer {
        guard let bin = binaries else { throw ServerError(description: "PostgreSQL is not installed (/usr/lib/postgresql/*/bin)") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        if asRoot {
            try FileManager.default.setAttributes([.ownerAccountName: "postgres", .posixPermissions: 0o700], ofItemAtPath: directory)
        }
        let server = PostgresServer(port: port, directory: directory, bin: bin, asRoot: asRoot)
        try server.tool("initdb", ["-D", "\(directory)/data", "-U", "estuary", "--auth=trust", "-E", "UTF8", "--no-sync"])
        try server.startServer()
        try server.tool("createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "estuary", "estuary"])
        return server
    }

    private init(port: Int, directory: String, bin: String, asRoot: Bool) {
        self.port = port
        self.directory = directory
        self.bin = bin
        self.asRoot = asRoot
    }

    /// Starts the stopped server again on the same port and data, and waits until it accepts connections.
    ///
    /// The server runs in the foreground as a child of this process (`pg_ctl start` would leave a daemon
    /// holding the tool's descriptors, and Foundation's `waitUntilExit` would wait for it).
    public func startServer() throws {
        let process = Process()
        let command = [
            "\(bin)/postgres", "-D", "\(directory)/data", "-p", "\(port)", "-k", directory, "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "max_connections=200",
        ]
        if asRoot {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--"] + command
        } else {
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
        }
        let log = "\(directory)/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? tool("pg_isready", ["-h", "127.0.0.1", "-p", "\(port)", "-q"])) != nil { return }
            guard process.isRunning else { break }
            usleep(100_000)
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw ServerError(description: "postgres did not start on port \(port): \(text.suffix(2000))")
    }

    /// Turns TLS on with this certificate and key (PEM files) and refuses plain TCP connections from then on
    /// (`hostnossl … reject`); the tools here connect with libpq's default `sslmode=prefer`, so they use TLS.
    public func requireTLS(certificate: String, key: String) throws {
        let data = "\(directory)/data"
        for (source, name) in [(certificate, "server.crt"), (key, "server.key")] {
            let target = "\(data)/\(name)"
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: source, toPath: target)
            var attributes: [FileAttributeKey: Any] = [.posixPermissions: 0o600]
            if asRoot { attributes[.ownerAccountName] = "postgres" }
            try FileManager.default.setAttributes(attributes, ofItemAtPath: target)
        }
        let hba = "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\nlocal all all trust\n"
        try hba.write(toFile: "\(data)/pg_hba.conf", atomically: true, encoding: .utf8)
        if asRoot { try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: "\(data)/pg_hba.conf") }
        try psql("ALTER SYSTEM SET ssl = on")
        try psql("SELECT pg_reload_conf()")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? psql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) == "t" { return }
            usleep(100_000)
        }
        throw ServerError(description: "TLS did not come on")
    }

    /// Stops the server (fast: open connections are closed).
    public func stopServer() throws {
        try tool("pg_ctl", ["-D", "\(directory)/data", "-m", "fast", "-w", "-t", "30", "stop"])
    }

    /// Runs SQL with psql and returns its unaligned output.
    @discardableResult
    public func psql(_ sql: String) throws -> String {
        try tool("psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "estuary", "-d", "estuary", "-v", "ON_ERROR_STOP=1", "-Atc", sql])
    }

    /// Stops the server (immediately) and removes its files.
    public func destroy() {
        _ = try? tool("pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    private func tool(_ name: String, _ arguments: [String]) throws -> String {
        let process = Process()
        if asRoot {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--", "\(bin)/\(name)"] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "\(bin)/\(name)")
            process.arguments = arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ServerError(
                description: "\(name) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): "
                    + String(decoding: errorData, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
