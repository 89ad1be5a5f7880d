import EstuaryConfig
import Foundation
import GRDB
import Logging

/// The sidecar's local copy of the central configuration, in SQLite (`SIDECAR_REPLICA`).
///
/// Guarantees:
/// - Each ``store(_:previous:syncedAt:)`` is one transaction: a reader, or a sidecar started after a crash, sees
///   the previous configuration or the new one, never a mixture.
/// - A file that SQLite reports as damaged, or whose rows do not read back (a stream's text that is not a JSON
///   object, a template that fails its check), is moved aside (`*.damaged-<time>`)
///   and an empty replica takes its place: the sidecar then serves nothing until the upstream answers, and
///   never a half-read configuration. ``rebuiltFrom`` names the file moved aside.
public final class ConfigReplica: Sendable {
    /// What the replica holds: the configuration, when it was last confirmed by the upstream, and the last
    /// lease view.
    public struct Snapshot: Sendable, Equatable {
        /// The configuration.
        public var config: CentralConfig
        /// When the upstream last delivered or confirmed it.
        public var syncedAt: Date
        /// The lease view (capture-once mode) at the last write.
        public var leases: [StreamKey: Lease]
    }

    /// The file's path.
    public let path: String
    /// The damaged file moved aside at open, if there was one.
    public let rebuiltFrom: String?
    private let database: DatabaseQueue

    /// Opens (or creates) the replica at `path`; a damaged file is moved aside and replaced.
    public init(path: String, logger: Logger = Logger(label: "estuary.sidecar.replica")) throws(ReplicaError) {
        self.path = path
        do {
            let database = try Self.open(path)
            _ = try Self.read(database, path: path)
            self.database = database
            self.rebuiltFrom = nil
            return
        } catch {
            let aside = "\(path).damaged-\(Int(Date().timeIntervalSince1970))"
            logger.error(
                "replica is damaged: moved aside and rebuilt from the upstream",
                metadata: ["path": "\(path)", "moved_to": "\(aside)", "error": "\(error)"])
            let files = FileManager.default
            try? files.moveItem(atPath: path, toPath: aside)
            // The write-ahead log goes with it (its commits belong to that file); the rest is SQLite's scratch.
            try? files.moveItem(atPath: path + "-wal", toPath: aside + "-wal")
            for suffix in ["-wal", "-shm", "-journal"] { try? files.removeItem(atPath: path + suffix) }
            self.rebuiltFrom = aside
        }
        do {
            self.database = try Self.open(path)
        } catch {
            throw .cannotOpen(path: path, reason: "\(error)")
        }
    }

    /// The stored state, or `nil` when the replica never received a configuration.
    public func load() throws(ReplicaError) -> Snapshot? {
        do {
            return try Self.read(database, path: path)
        } catch let error as ReplicaError {
            throw error
        } catch {
            throw .databaseError(path: path, reason: "\(error)")
        }
    }

    /// Replaces the stored configuration with `config` in one transaction, writing only what differs from
    /// `previous` (the configuration this replica holds; `nil` rewrites everything).
    ///
    /// The write runs on the database's own queue: the caller's task waits without holding a thread of the
    /// concurrency pool (a start-up write of 10,000 streams, or a slow disk, would otherwise hold back the
    /// requests this sidecar serves).
    public func store(_ config: CentralConfig, previous: CentralConfig?, syncedAt: Date) async throws(ReplicaError) {
        do {
            try await database.write { db in
                if previous == nil {
                    for table in ["streams", "templates", "episodes", "nodes"] { try db.execute(sql: "DELETE FROM \(table)") }
                }
                let old = previous ?? CentralConfig()
                let delete = try db.cachedStatement(sql: "DELETE FROM streams WHERE role = ? AND name = ?")
                for key in old.streams.keys where config.streams[key] == nil {
                    try delete.execute(arguments: [key.role, key.name])
                }
                var streams = RowBatch(db, into: "streams", columns: ["role", "name", "failback", "config"])
                for (key, stream) in config.streams where old.streams[key] != stream {
                    // A stream read from JSON text is stored as that text (it reads back to the same configuration).
                    let json = stream.source ?? String(decoding: CentralDocument.wireJSON(stream.config), as: UTF8.self)
                    try streams.append([key.role, key.name, stream.failback?.rawValue, json])
                }
                try streams.flush()
                if old.templates != config.templates {
                    try db.execute(sql: "DELETE FROM templates")
                    for template in config.templates {
                        try db.execute(
                            sql: "INSERT OR REPLACE INTO templates(role, prefix, config) VALUES (?, ?, ?)",
                            arguments: [
                                template.role, template.prefix,
                                String(decoding: CentralDocument.wireJSON(template.config), as: UTF8.self),
                            ])
                    }
                }
                let deleteEpisode = try db.cachedStatement(sql: "DELETE FROM episodes WHERE id = ?")
                for id in old.episodes.keys where config.episodes[id] == nil {
                    try deleteEpisode.execute(arguments: [id])
                }
                let insertEpisode = try db.cachedStatement(
                    sql: "INSERT OR REPLACE INTO episodes(id, stream, opened_at, updated_at, closed_at) VALUES (?, ?, ?, ?, ?)")
                for (id, episode) in config.episodes where old.episodes[id] != episode {
                    try insertEpisode.execute(arguments: [id, episode.stream, episode.openedAt, episode.updatedAt, episode.closedAt])
                }
                if old.nodes != config.nodes {
                    try db.execute(sql: "DELETE FROM nodes")
                    for node in config.nodes.values {
                        let labels = String(decoding: try JSONEncoder().encode(node.labels), as: UTF8.self)
                        try db.execute(
                            sql: "INSERT INTO nodes(name, role, advertise, labels, capacity) VALUES (?, ?, ?, ?, ?)",
                            arguments: [node.name, node.role, node.advertise, labels, node.capacity])
                    }
                }
                try db.execute(
                    sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('failback', ?), ('synced_at', ?)",
                    arguments: [config.failback.rawValue, String(syncedAt.timeIntervalSince1970)])
            }
        } catch {
            throw .databaseError(path: path, reason: "\(error)")
        }
    }

    /// Records that the upstream confirmed the stored configuration at `syncedAt` (on the database's queue, as
    /// ``store(_:previous:syncedAt:)``).
    public func touch(syncedAt: Date) async throws(ReplicaError) {
        do {
            try await database.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('synced_at', ?)",
                    arguments: [String(syncedAt.timeIntervalSince1970)])
            }
        } catch {
            throw .databaseError(path: path, reason: "\(error)")
        }
    }

    /// Replaces the stored lease view in one transaction. Given `previous`, the view the file holds now, only
    /// the rows that differ are written (a lease pass changes a few of thousands); without it, all of them. Given
    /// also `changed`, a set holding every key whose lease may differ between `previous` and `leases`, only those
    /// keys are compared: a claim wave changes the view at every pass, and comparing 10,000 leases each time was a
    /// third of the write. On the database's queue, as ``store(_:previous:syncedAt:)``.
    public func storeLeases(
        _ leases: [StreamKey: Lease], previous: [StreamKey: Lease]? = nil, changed: Set<StreamKey>? = nil
    ) async throws(ReplicaError) {
        do {
            try await database.write { db in
                // Unknown contents: emptied first, then written as the difference from nothing.
                if previous == nil { try db.execute(sql: "DELETE FROM leases") }
                let stored = previous ?? [:]
                let delete = try db.cachedStatement(sql: "DELETE FROM leases WHERE role = ? AND stream = ?")
                var inserts = RowBatch(db, into: "leases", columns: ["role", "stream", "node", "next_node", "epoch"])
                func write(_ key: StreamKey, _ lease: Lease?) throws {
                    if let lease {
                        try inserts.append([key.role, key.name, lease.node, lease.nextNode, lease.epoch])
                    } else {
                        try delete.execute(arguments: [key.role, key.name])
                    }
                }
                if let changed, previous != nil {
                    for key in changed where stored[key] != leases[key] { try write(key, leases[key]) }
                } else {
                    for key in stored.keys where leases[key] == nil { try write(key, nil) }
                    for (key, lease) in leases where stored[key] != lease { try write(key, lease) }
                }
                try inserts.flush()
            }
        } catch {
            throw .databaseError(path: path, reason: "\(error)")
        }
    }

    private static func open(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        // Write-ahead log, synced at checkpoints only (`synchronous = NORMAL`): a commit is an append to the log,
        // where the rollback journal synced the disk several times per commit. A process killed at any point leaves the
        // last committed state; a power cut may lose the last commits, never the file's integrity (SQLite's WAL
        // guarantee), and a replica a few seconds old is what the upstream corrects at its next answer.
        configuration.journalMode = .wal
        let database = try DatabaseQueue(path: path, configuration: configuration)
        try database.write { db in
            let check = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? ""
            guard check == "ok" else { throw ReplicaError.databaseError(path: path, reason: "quick_check: \(check)") }
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS streams(role TEXT NOT NULL, name TEXT NOT NULL, failback TEXT,
                        config TEXT NOT NULL, PRIMARY KEY(role, name));
                    CREATE TABLE IF NOT EXISTS templates(role TEXT NOT NULL, prefix TEXT NOT NULL, config TEXT NOT NULL,
                        PRIMARY KEY(role, prefix));
                    CREATE TABLE IF NOT EXISTS episodes(id TEXT PRIMARY KEY, stream TEXT NOT NULL, opened_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL, closed_at INTEGER);
                    CREATE TABLE IF NOT EXISTS nodes(name TEXT PRIMARY KEY, role TEXT NOT NULL, advertise TEXT NOT NULL,
                        labels TEXT NOT NULL, capacity INTEGER NOT NULL);
                    CREATE TABLE IF NOT EXISTS leases(role TEXT NOT NULL, stream TEXT NOT NULL, node TEXT NOT NULL,
                        next_node TEXT, epoch INTEGER NOT NULL, PRIMARY KEY(role, stream));
                    """)
        }
        return database
    }

    private static func read(_ database: DatabaseQueue, path: String) throws -> Snapshot? {
        try database.read { db in
            guard let synced = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'synced_at'"),
                let seconds = Double(synced)
            else { return nil }
            let failbackText = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'failback'") ?? "stay"
            var streams: [CentralStream] = []
            // Each stream is parsed for its placement and decoded in full when first served: a restarted sidecar
            // serves at once, and decodes only its node's share. Text that is not a JSON object is damage.
            for row in try Row.fetchAll(db, sql: "SELECT role, name, failback, config FROM streams") {
                let json: String = row["config"]
                let failback: String? = row["failback"]
                streams.append(
                    CentralStream(
                        role: row["role"], name: row["name"], failback: failback.flatMap(FailbackPolicy.init(rawValue:)), storedJSON: json,
                        placement: try StreamPlacement(streamJSON: Data(json.utf8))))
            }
            var templates: [StreamTemplate] = []
            for row in try Row.fetchAll(db, sql: "SELECT role, prefix, config FROM templates") {
                let stored = try CentralDocument.storedStream(role: row["role"], name: nil, failback: nil, json: row["config"])
                templates.append(StreamTemplate(role: row["role"], prefix: row["prefix"], config: stored.config))
            }
            let episodes = try Row.fetchAll(db, sql: "SELECT id, stream, opened_at, updated_at, closed_at FROM episodes").map {
                CentralEpisode(
                    id: $0["id"], stream: $0["stream"], openedAt: $0["opened_at"], updatedAt: $0["updated_at"], closedAt: $0["closed_at"])
            }
            let nodes = try Row.fetchAll(db, sql: "SELECT name, role, advertise, labels, capacity FROM nodes").map { row in
                let labels = try JSONDecoder().decode([String: String].self, from: Data((row["labels"] as String).utf8))
                return CentralNode(
                    name: row["name"], role: row["role"], advertise: row["advertise"], labels: labels, capacity: row["capacity"])
            }
            var leases: [StreamKey: Lease] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT role, stream, node, next_node, epoch FROM leases") {
                leases[StreamKey(role: row["role"], name: row["stream"])] = Lease(
                    node: row["node"], nextNode: row["next_node"], epoch: row["epoch"])
            }
            let config = CentralConfig(
                streams: streams, templates: templates, episodes: episodes, nodes: nodes,
                failback: FailbackPolicy(rawValue: failbackText) ?? .stay)
            return Snapshot(config: config, syncedAt: Date(timeIntervalSince1970: seconds), leases: leases)
        }
    }
}
