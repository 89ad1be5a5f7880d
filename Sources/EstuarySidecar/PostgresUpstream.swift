import EstuaryConfig
import EstuaryConfigExternal
import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The central configuration in PostgreSQL (`postgres://…`), replicated with `LISTEN estuary_config` plus a
/// reconcile every ``reconcileInterval`` that reads everything again when the tables' row count or version sum
/// differs from what was read.
///
/// After a notification only rows whose `version` is above the last one seen are read, so a change reaches the
/// replica in one round trip. A changed stream row is checked when read: one that fails validation keeps the
/// running version and is reported with the stream and field; the rest apply. The first read keeps each row as
/// its text, checked when first claimed or served (a row that fails is neither, and is reported then). Admin writes go through as upserts or tombstones (`deleted = true`).
public struct PostgresUpstream: CentralUpstream {
    /// The shared connection.
    public let link: PostgresLink
    /// How often the tables are compared with what was read (and read again if they differ), even without notifications.
    public let reconcileInterval: Duration
    let logger: Logger

    /// Creates the upstream.
    public init(link: PostgresLink, reconcileInterval: Duration = .seconds(10), logger: Logger) {
        self.link = link
        self.reconcileInterval = reconcileInterval
        self.logger = logger
    }

    public var label: String { link.settings.masked }
    public var isWritable: Bool { true }

    /// What one sync session knows: the configuration and the highest version read.
    struct Cursor {
        var config = CentralConfig()
        var version: Int64 = 0
        /// The version of every row read (deleted ones included), by table and key: the count and the sum a
        /// full read would find now if nothing was missed.
        var rowVersions: [String: Int64] = [:]

        /// What ``PostgresUpstream/digest(_:)`` answers when the rows are those this cursor read.
        var digest: String { "\(rowVersions.count)/\(rowVersions.values.reduce(0, &+))" }
    }

    public func run(into state: SidecarState) async {
        while !Task.isCancelled {
            do {
                let connection = try await link.connection()
                try await session(connection, state: state)
            } catch is CancellationError {
                return
            } catch {
                state.fail("upstream_unreachable", "\(link.settings.masked): \(Self.describe(error))")
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Listens and replicates on one connection until it fails.
    private func session(_ connection: PostgresConnection, state: SidecarState) async throws {
        let wakeup = Wakeup()
        let lost = LostConnection()
        try await connection.listen(on: "estuary_config") { notifications in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await _ in notifications { wakeup.signal() }
                        lost.record(PostgresUpstreamError.connectionClosed)
                    } catch {
                        lost.record(error)
                    }
                    wakeup.signal()
                }
                defer { group.cancelAll() }
                try await replicate(connection, state: state, wakeup: wakeup, lost: lost)
            }
        }
    }

    /// Reads everything, then the changes after each notification, and everything again every
    /// ``reconcileInterval``, until the connection fails.
    private func replicate(_ connection: PostgresConnection, state: SidecarState, wakeup: Wakeup, lost: LostConnection) async throws {
        var cursor = Cursor()
        try await reload(connection, into: &cursor, full: true)
        await state.deliver(cursor.config)
        var lastFull = ContinuousClock.now
        while !Task.isCancelled {
            await wakeup.wait(upTo: reconcileInterval)
            if let error = lost.error {
                await link.failed(connection)
                throw error
            }
            var full = ContinuousClock.now - lastFull >= reconcileInterval
            do {
                // A reconcile reads everything only when the tables' row count or version sum differs from what
                // was read: a missed notification, a row committed out of version order, a hard delete.
                if full, try await digest(connection) == cursor.digest {
                    full = false
                    lastFull = .now
                }
                try await reload(connection, into: &cursor, full: full)
            } catch {
                await link.failed(connection)
                throw error
            }
            if full { lastFull = .now }
            await state.deliver(cursor.config)
        }
    }

    /// The configuration tables' row count and version sum, as `count/sum`: a reconcile reads every row again
    /// only when this differs from the rows it has read.
    public func digest(_ connection: PostgresConnection) async throws -> String {
        await link.count()
        let rows = try await connection.query(
            """
            SELECT (SELECT count(*) FROM estuary_streams) + (SELECT count(*) FROM estuary_templates)
                     + (SELECT count(*) FROM estuary_episodes) + (SELECT count(*) FROM estuary_settings),
                   ((SELECT coalesce(sum(version), 0) FROM estuary_streams) + (SELECT coalesce(sum(version), 0) FROM estuary_templates)
                     + (SELECT coalesce(sum(version), 0) FROM estuary_episodes)
                     + (SELECT coalesce(sum(version), 0) FROM estuary_settings))::text
            """, logger: logger)
        for try await (count, sum) in rows.decode((Int64, String).self) { return "\(count)/\(sum)" }
        return ""
    }

    /// Reads everything (`full`) or the rows changed since the cursor's version; a `reconcile` notice or a
    /// hard delete is caught by the periodic full read, and by any full read the caller asks for.
    func reload(_ connection: PostgresConnection, into cursor: inout Cursor, full: Bool) async throws {
        let since = full ? -1 : cursor.version
        // A full read keeps the entries of rows whose text did not change (and what served ones decoded to).
        let before = full ? cursor.config.streams : [:]
        let firstRead = cursor.version == 0 && cursor.config.streams.isEmpty
        if full { cursor = Cursor() }
        var maximum = cursor.version
        await link.count(4)
        // The rows are taken off the connection first and decoded after: the connection is shared, and the
        // heartbeat must not wait while a start-up read decodes thousands of streams on starved cores (the other
        // sidecars would see this node late, and hold their claims back until they see it).
        let streams = try await connection.query(
            """
            SELECT role, name, config::text, failback, version, deleted, (config->'cluster_ingest')::text, (config->'dvr')::text
            FROM estuary_streams WHERE version > \(since) AND version <= \(PostgresSchema.versionUpperBound)
            """,
            logger: logger
        ).collect()
        // Room for every row at once: growing the tables of 10,000 entries step by step rehashed each one's
        // keys again at every doubling, a sixth of a start-up read. (Not without rows: the configuration's table
        // is shared with the one served, and reserving would copy it.)
        if !streams.isEmpty {
            cursor.config.streams.reserveCapacity(cursor.config.streams.count + streams.count)
            cursor.rowVersions.reserveCapacity(cursor.rowVersions.count + streams.count)
        }
        for row in streams {
            var columns = PostgresRowReader(row)
            let role: String = try columns.next()
            let name: String = try columns.next()
            let json: String = try columns.next()
            let failback: String? = try columns.next()
            let version: Int64 = try columns.next()
            let deleted: Bool = try columns.next()
            let clusterIngest: String? = try columns.next()
            let dvr: String? = try columns.next()
            maximum = max(maximum, version)
            cursor.rowVersions["s/\(role)/\(name)"] = version
            let key = StreamKey(role: role, name: name)
            if deleted {
                cursor.config.streams[key] = nil
                continue
            }
            let policy = failback.flatMap(FailbackPolicy.init(rawValue:))
            let known = full ? before[key] : cursor.config.streams[key]
            if let known, known.source == json, known.failback == policy {
                cursor.config.streams[key] = known
                continue
            }
            if firstRead {
                // The first read keeps each row as its text, decoded and checked when first claimed or served: a
                // sidecar places every stream of its role but runs its node's share (decoding all 10,000 was most of
                // each sidecar's start). Placing needs two fields, which PostgreSQL extracts.
                cursor.config.streams[key] = CentralStream(
                    role: role, name: name, failback: policy, storedJSON: json,
                    placement: StreamPlacement(clusterIngestJSON: clusterIngest, dvrJSON: dvr))
                continue
            }
            // A row changed since: checked now (they come a few at a time), so that a bad edit keeps the running
            // version on every sidecar, in their replicas and in where the stream is placed.
            do throws(CentralConfigError) {
                cursor.config.streams[key] = try CentralDocument.storedStream(role: role, name: name, failback: failback, json: json)
            } catch {
                cursor.config.streams[key] = known
                logger.error("central stream rejected: the running version is kept", metadata: ["error": "\(error)"])
            }
        }
        let templates = try await connection.query(
            "SELECT role, prefix, config::text, version, deleted FROM estuary_templates WHERE version > \(since) AND version <= \(PostgresSchema.versionUpperBound)",
            logger: logger)
        var changedTemplates = cursor.config.templates
        for try await (role, prefix, json, version, deleted) in templates.decode((String, String, String, Int64, Bool).self) {
            maximum = max(maximum, version)
            cursor.rowVersions["t/\(role)/\(prefix)"] = version
            changedTemplates.removeAll { $0.role == role && $0.prefix == prefix }
            if deleted { continue }
            var object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
            object["prefix"] = prefix
            object["role"] = role
            do throws(CentralConfigError) {
                changedTemplates.append(try CentralDocument.readTemplate(object, label: "template \(prefix)"))
            } catch {
                logger.error("central template rejected", metadata: ["error": "\(error)"])
            }
        }
        cursor.config.templates = changedTemplates.sorted { $0.prefix.count > $1.prefix.count }
        let episodes = try await connection.query(
            """
            SELECT id, stream, opened_at, episode_updated_at, closed_at, version, deleted FROM estuary_episodes
            WHERE version > \(since) AND version <= \(PostgresSchema.versionUpperBound)
            """, logger: logger)
        for try await (id, stream, opened, updated, closed, version, deleted) in episodes.decode(
            (String, String, Int64, Int64, Int64?, Int64, Bool).self)
        {
            maximum = max(maximum, version)
            cursor.rowVersions["e/\(id)"] = version
            cursor.config.episodes[id] =
                deleted ? nil : CentralEpisode(id: id, stream: stream, openedAt: opened, updatedAt: updated, closedAt: closed)
        }
        let settings = try await connection.query(
            "SELECT key, value, version, deleted FROM estuary_settings WHERE version > \(since) AND version <= \(PostgresSchema.versionUpperBound)",
            logger: logger)
        for try await (key, value, version, deleted) in settings.decode((String, String, Int64, Bool).self) {
            maximum = max(maximum, version)
            cursor.rowVersions["k/\(key)"] = version
            if key == "failback" { cursor.config.failback = deleted ? .stay : FailbackPolicy(rawValue: value) ?? .stay }
        }
        cursor.version = maximum
    }

    public func apply(_ change: AdminChange) async throws(AdminError) {
        do {
            let connection = try await link.connection()
            await link.count()
            do {
                switch change {
                case .putStream(let stream):
                    let json = String(decoding: CentralDocument.wireJSON(stream.config), as: UTF8.self)
                    let failback = stream.failback?.rawValue
                    try await connection.query(
                        """
                        INSERT INTO estuary_streams(role, name, config, failback, deleted)
                        VALUES (\(stream.role), \(stream.name), \(json)::jsonb, \(failback), false)
                        ON CONFLICT (role, name) DO UPDATE SET config = EXCLUDED.config, failback = EXCLUDED.failback, deleted = false
                        """, logger: logger)
                case .deleteStream(let key):
                    let rows = try await connection.query(
                        """
                        UPDATE estuary_streams SET deleted = true WHERE role = \(key.role) AND name = \(key.name) AND NOT deleted
                        RETURNING name
                        """, logger: logger)
                    var found = false
                    for try await _ in rows.decode(String.self) { found = true }
                    guard found else { throw AdminError.notFound(what: "stream \(key)") }
                case .putEpisode(let episode):
                    try await connection.query(
                        """
                        INSERT INTO estuary_episodes(id, stream, opened_at, episode_updated_at, closed_at, deleted)
                        VALUES (\(episode.id), \(episode.stream), \(episode.openedAt), \(episode.updatedAt), \(episode.closedAt), false)
                        ON CONFLICT (id) DO UPDATE SET stream = EXCLUDED.stream, opened_at = EXCLUDED.opened_at,
                            episode_updated_at = EXCLUDED.episode_updated_at, closed_at = EXCLUDED.closed_at, deleted = false
                        """, logger: logger)
                case .deleteEpisode(let id):
                    let rows = try await connection.query(
                        "UPDATE estuary_episodes SET deleted = true WHERE id = \(id) AND NOT deleted RETURNING id", logger: logger)
                    var found = false
                    for try await _ in rows.decode(String.self) { found = true }
                    guard found else { throw AdminError.notFound(what: "episode \(id)") }
                }
            } catch let error as AdminError {
                throw error
            } catch {
                await link.failed(connection)
                throw error
            }
        } catch let error as AdminError {
            throw error
        } catch {
            throw .unavailable(reason: Self.describe(error))
        }
    }

    /// A one-line description of a PostgreSQL error.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return "server: \(message)" }
            // A failed connection carries its cause: refused, timed out, or TLS (an untrusted certificate).
            if let underlying = error.underlying { return "\(error.code): \(describeCause(underlying))" }
            return "\(error.code)"
        }
        return "\(error)"
    }

    private static func describeCause(_ error: any Error) -> String {
        if let error = error as? NIOSSLError {
            switch error {
            case .handshakeFailed(let reason):
                let text = "\(reason)"
                return text.contains("CERTIFICATE_VERIFY_FAILED")
                    ? "TLS: the server's certificate is not trusted (certificate verify failed; check sslrootcert)"
                    : "TLS handshake failed: \(text)"
            default:
                return "TLS: \(error)"
            }
        }
        if let error = error as? NIOSSLExtraError {
            return "TLS: the server's certificate does not name this host (\(error)); check the URL's host or use sslmode=verify-ca"
        }
        return "\(error)"
    }
}

/// Failures of the PostgreSQL link that PostgresNIO does not name.
public enum PostgresUpstreamError: Error, Sendable {
    /// The notification stream ended: the connection is gone.
    case connectionClosed
}

/// The error that ended a connection's notification stream, set by the listening task, read by the sync loop.
final class LostConnection: Sendable {
    private let value = Mutex<(any Error)?>(nil)

    func record(_ error: any Error) {
        value.withLock { $0 = error }
    }

    var error: (any Error)? { value.withLock { $0 } }
}
