import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
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
                database: settings.database, tls: try settings.connectionTLS())
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

/// A parsed `postgres://user:password@host:port/database?sslmode=…` URL.
///
/// TLS follows libpq's `sslmode` (default `prefer`): `disable` never; `allow` and `prefer` when the server offers
/// it, unverified; `require` always, unverified unless `sslrootcert` is given (then the chain is verified, as
/// libpq does); `verify-ca` always, verifying the chain against `sslrootcert` (else the system's roots);
/// `verify-full` as `verify-ca` plus the server's name (or IP address) against its certificate. `sslcert` and
/// `sslkey` present a client certificate. The files are read when a connection is made, so a rotated
/// certificate is used from the next reconnect.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// libpq's `sslmode` values.
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// When and how to use TLS.
    public var sslMode: SSLMode
    /// PEM file of the certificate authorities to verify the server with (`sslrootcert`).
    public var rootCertificate: String?
    /// PEM files of a client certificate and its key (`sslcert`, `sslkey`).
    public var clientCertificate: String?
    public var clientKey: String?

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
        let query = components.queryItems ?? []
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value.flatMap { $0.isEmpty ? nil : $0 } }
        let mode = value("sslmode") ?? "prefer"
        guard let sslMode = SSLMode(rawValue: mode) else {
            let known = SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalidUpstream(SecretText.mask(text), reason: "sslmode=\(mode) is not one of \(known)")
        }
        self.sslMode = sslMode
        self.rootCertificate = value("sslrootcert")
        self.clientCertificate = value("sslcert")
        self.clientKey = value("sslkey")
        if (clientCertificate == nil) != (clientKey == nil) {
            throw .invalidUpstream(SecretText.mask(text), reason: "sslcert and sslkey go together")
        }
        for (name, file) in [("sslrootcert", rootCertificate), ("sslcert", clientCertificate), ("sslkey", clientKey)] {
            if let file, !FileManager.default.isReadableFile(atPath: file) {
                throw .invalidUpstream(SecretText.mask(text), reason: "\(name)=\(file) is not a readable file")
            }
        }
    }

    /// The URL with the password hidden.
    public var masked: String {
        "postgres://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
            + (sslMode == .prefer ? "" : "?sslmode=\(sslMode.rawValue)")
    }
    public var description: String { masked }

    /// PostgresNIO's TLS setting for this URL, reading the certificate files now.
    /// - Throws: ``PostgresTLSError`` naming a file that cannot be read as PEM.
    public func connectionTLS() throws(PostgresTLSError) -> PostgresConnection.Configuration.TLS {
        guard sslMode != .disable else { return .disable }
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable, .allow, .prefer:
            configuration.certificateVerification = .none
        case .require:
            configuration.certificateVerification = rootCertificate == nil ? .none : .noHostnameVerification
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
        case .verifyFull:
            configuration.certificateVerification = .fullVerification
        }
        do {
            if let rootCertificate {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificate))
            }
        } catch {
            throw PostgresTLSError(file: rootCertificate ?? "", reason: "\(error)")
        }
        if let clientCertificate, let clientKey {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(clientCertificate).map { .certificate($0) }
            } catch {
                throw PostgresTLSError(file: clientCertificate, reason: "\(error)")
            }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientKey, format: .pem))
            } catch {
                throw PostgresTLSError(file: clientKey, reason: "\(error)")
            }
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw PostgresTLSError(file: rootCertificate ?? clientCertificate ?? "", reason: "\(error)")
        }
        return sslMode == .allow || sslMode == .prefer ? .prefer(context) : .require(context)
    }
}

/// A certificate or key file of a `postgres://` upstream that could not be used.
public struct PostgresTLSError: Error, Sendable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// What was wrong with it.
    public var reason: String

    public var description: String { "PostgreSQL TLS: cannot use \(file): \(reason)" }
}

/// Masks the password in URLs shown in errors.
enum SecretText {
    static func mask(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}
