import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// The sidecar's one connection to the central PostgreSQL, shared by replication, admin writes and leases.
///
/// It connects on first use (with a 2 s bound), applies the schema migrations once per connection, and is
/// dropped by ``failed(_:)`` after any error so the next use reconnects. ``connectedSince`` tells the lease
/// logic how long the link has been up without a break (its grace period after an outage).
public actor PostgresLink {
    /// The server and credentials.
    public let settings: PostgresURL
    private let logger: Logger
    private var connection: PostgresConnection?
    private var connecting: Task<PostgresConnection, any Error>?
    private var nextID = 1
    /// When the current connection was made; `nil` while disconnected.
    public private(set) var connectedSince: ContinuousClock.Instant?
    /// Queries sent, for the benchmark's queries per second.
    public private(set) var queries = 0

    /// Creates a link; nothing connects until first use.
    public init(settings: PostgresURL, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// The open connection, connecting (and migrating) first if needed.
    public func connection() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        if connection != nil { drop() }
        if let connecting { return try await connecting.value }
        let id = nextID
        nextID += 1
        let settings = settings
        let logger = logger
        let task = Task { () throws -> PostgresConnection in
            var configuration = PostgresConnection.Configuration(
                host: settings.host, port: settings.port, username: settings.user, password: settings.password,
                database: settings.database, tls: .disable)
            configuration.options.connectTimeout = .seconds(2)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
            do {
                try await PostgresSchema.migrate(connection, logger: logger)
            } catch {
                let closing: EventLoopFuture<Void> = connection.close()
                try? await closing.get()
                throw error
            }
            return connection
        }
        connecting = task
        defer { connecting = nil }
        let made = try await task.value
        connection = made
        connectedSince = .now
        logger.info("connected to PostgreSQL", metadata: ["server": "\(settings.masked)"])
        return made
    }

    /// Counts queries sent (for metrics and the benchmark).
    public func count(_ number: Int = 1) {
        queries += number
    }

    /// Drops `connection` after an error on it; the next use reconnects.
    public func failed(_ failed: PostgresConnection) {
        guard let connection, connection === failed else { return }
        drop()
    }

    /// Closes the connection (shutdown).
    public func close() async {
        let connection = connection
        drop()
        if let connection {
            let closing: EventLoopFuture<Void> = connection.close()
            try? await closing.get()
        }
    }

    private func drop() {
        if let connection {
            // The connection must outlive its close (PostgresNIO asserts on a connection freed while open).
            let closing: EventLoopFuture<Void> = connection.close()
            closing.whenComplete { _ in withExtendedLifetime(connection) {} }
        }
        connection = nil
        connectedSince = nil
    }
}

/// A parsed `postgres://user:password@host:port/database` URL.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String

    /// Parses the URL.
    /// - Throws: ``SidecarSettingsError/invalidUpstream(_:reason:)`` naming what is wrong.
    public init(_ text: String) throws(SidecarSettingsError) {
        guard let components = URLComponents(string: text), components.scheme == "postgres" || components.scheme == "postgresql" else {
            throw .invalidUpstream(SecretText.mask(text), reason: "expected postgres://user:password@host:port/database")
        }
        guard let host = components.host, !host.isEmpty else {
            throw .invalidUpstream(SecretText.mask(text), reason: "no host")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        self.password = components.password.flatMap { $0.removingPercentEncoding }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? self.user : path
        if let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value, mode != "disable", mode != "prefer" {
            throw .invalidUpstream(SecretText.mask(text), reason: "sslmode=\(mode) is not supported yet (loopback or a service mesh only)")
        }
    }

    /// The URL with the password hidden.
    public var masked: String { "postgres://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)" }
    public var description: String { masked }
}

/// Masks the password in URLs shown in errors.
enum SecretText {
    static func mask(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}
