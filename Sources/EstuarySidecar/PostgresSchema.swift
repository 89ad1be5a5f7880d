import Logging
import PostgresNIO

/// The central database's schema and its migrations. Each migration runs once, in order, in a transaction
/// holding an advisory lock, so fifty sidecars starting together apply it exactly once.
///
/// Configuration tables (`estuary_streams`, `estuary_templates`, `estuary_episodes`, `estuary_settings`) carry a
/// `version` from one sequence, set by a trigger on every insert and update, and a `deleted` flag (a deleted
/// row stays as a tombstone so incremental sync sees it). The trigger also sends `NOTIFY estuary_config`, so
/// operators may edit the tables with plain SQL. A hard `DELETE` notifies `reconcile` (a full reload).
/// `estuary_nodes` is the live registry (heartbeats, load) and `estuary_leases` the capture-once leases. A lease
/// row is never deleted: a released lease has `node = ''`, and every change takes a new `version`, so each
/// sidecar reads only the leases changed since its last pass. `estuary_dynamic` holds the dynamic names placed
/// on a node, each until it is no longer asked for.
public enum PostgresSchema {
    /// The migrations, oldest first; a released one is never edited, only followed by a new one.
    static let migrations: [[String]] = [
        [
            "CREATE SEQUENCE IF NOT EXISTS estuary_config_version",
            """
            CREATE TABLE IF NOT EXISTS estuary_streams (
                role text NOT NULL DEFAULT 'ingest', name text NOT NULL, config jsonb NOT NULL, failback text,
                version bigint NOT NULL DEFAULT 0, deleted boolean NOT NULL DEFAULT false,
                updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (role, name))
            """,
            """
            CREATE TABLE IF NOT EXISTS estuary_templates (
                role text NOT NULL DEFAULT 'ingest', prefix text NOT NULL, config jsonb NOT NULL,
                version bigint NOT NULL DEFAULT 0, deleted boolean NOT NULL DEFAULT false,
                updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (role, prefix))
            """,
            """
            CREATE TABLE IF NOT EXISTS estuary_episodes (
                id text PRIMARY KEY, stream text NOT NULL, opened_at bigint NOT NULL, episode_updated_at bigint NOT NULL,
                closed_at bigint, version bigint NOT NULL DEFAULT 0, deleted boolean NOT NULL DEFAULT false,
                updated_at timestamptz NOT NULL DEFAULT now())
            """,
            """
            CREATE TABLE IF NOT EXISTS estuary_settings (
                key text PRIMARY KEY, value text NOT NULL, version bigint NOT NULL DEFAULT 0,
                deleted boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT now())
            """,
            """
            CREATE OR REPLACE FUNCTION estuary_touch() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.version := nextval('estuary_config_version');
                NEW.updated_at := now();
                PERFORM pg_notify('estuary_config', TG_TABLE_NAME);
                RETURN NEW;
            END $$
            """,
            """
            CREATE OR REPLACE FUNCTION estuary_removed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('estuary_config', 'reconcile');
                RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER estuary_streams_touch BEFORE INSERT OR UPDATE ON estuary_streams FOR EACH ROW EXECUTE FUNCTION estuary_touch()",
            "CREATE TRIGGER estuary_templates_touch BEFORE INSERT OR UPDATE ON estuary_templates FOR EACH ROW EXECUTE FUNCTION estuary_touch()",
            "CREATE TRIGGER estuary_episodes_touch BEFORE INSERT OR UPDATE ON estuary_episodes FOR EACH ROW EXECUTE FUNCTION estuary_touch()",
            "CREATE TRIGGER estuary_settings_touch BEFORE INSERT OR UPDATE ON estuary_settings FOR EACH ROW EXECUTE FUNCTION estuary_touch()",
            "CREATE TRIGGER estuary_streams_removed AFTER DELETE ON estuary_streams FOR EACH STATEMENT EXECUTE FUNCTION estuary_removed()",
            "CREATE TRIGGER estuary_templates_removed AFTER DELETE ON estuary_templates FOR EACH STATEMENT EXECUTE FUNCTION estuary_removed()",
            "CREATE TRIGGER estuary_episodes_removed AFTER DELETE ON estuary_episodes FOR EACH STATEMENT EXECUTE FUNCTION estuary_removed()",
            "CREATE TRIGGER estuary_settings_removed AFTER DELETE ON estuary_settings FOR EACH STATEMENT EXECUTE FUNCTION estuary_removed()",
            """
            CREATE TABLE IF NOT EXISTS estuary_nodes (
                name text PRIMARY KEY, role text NOT NULL, advertise text NOT NULL DEFAULT '', labels jsonb NOT NULL DEFAULT '{}',
                capacity integer NOT NULL DEFAULT 0, ready boolean NOT NULL DEFAULT false, streams integer NOT NULL DEFAULT 0,
                bitrate bigint NOT NULL DEFAULT 0, alive text[] NOT NULL DEFAULT '{}', starting boolean NOT NULL DEFAULT false,
                heartbeat_at timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE SEQUENCE IF NOT EXISTS estuary_lease_version",
            """
            CREATE TABLE IF NOT EXISTS estuary_leases (
                role text NOT NULL, stream text NOT NULL, node text NOT NULL, next_node text, epoch bigint NOT NULL,
                version bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (role, stream))
            """,
            "CREATE INDEX IF NOT EXISTS estuary_leases_version ON estuary_leases (version)",
            """
            CREATE OR REPLACE FUNCTION estuary_lease_touch() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.version := nextval('estuary_lease_version');
                NEW.updated_at := now();
                RETURN NEW;
            END $$
            """,
            """
            CREATE TRIGGER estuary_leases_touch BEFORE INSERT OR UPDATE ON estuary_leases
                FOR EACH ROW EXECUTE FUNCTION estuary_lease_touch()
            """,
        ],
        [
            // Each alive stream's input bitrate, in the order of `alive` (placement weighs streams by it).
            "ALTER TABLE estuary_nodes ADD COLUMN IF NOT EXISTS alive_bitrates bigint[] NOT NULL DEFAULT '{}'",
            // Dynamic names some node asked for (a template match), the node chosen to capture each, and until when
            // it stays wanted without being asked again; `version` from the lease sequence, for incremental reads.
            """
            CREATE TABLE IF NOT EXISTS estuary_dynamic (
                role text NOT NULL, name text NOT NULL, node text NOT NULL, expires_at timestamptz NOT NULL,
                version bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (role, name))
            """,
            "CREATE INDEX IF NOT EXISTS estuary_dynamic_version ON estuary_dynamic (version)",
            // The transaction that last wrote each lease and dynamic-name row. Versions come from a sequence, so a
            // writer may commit version V after another's V+1 was read; a reader therefore also re-reads the rows
            // written by the transactions that were still running at its last read.
            "ALTER TABLE estuary_leases ADD COLUMN IF NOT EXISTS writer xid8 NOT NULL DEFAULT '0'",
            "ALTER TABLE estuary_dynamic ADD COLUMN IF NOT EXISTS writer xid8 NOT NULL DEFAULT '0'",
            "CREATE INDEX IF NOT EXISTS estuary_leases_writer ON estuary_leases (writer)",
            "CREATE INDEX IF NOT EXISTS estuary_dynamic_writer ON estuary_dynamic (writer)",
            """
            CREATE OR REPLACE FUNCTION estuary_lease_touch() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.version := nextval('estuary_lease_version');
                NEW.writer := pg_current_xact_id();
                NEW.updated_at := now();
                RETURN NEW;
            END $$
            """,
            """
            CREATE TRIGGER estuary_dynamic_touch BEFORE INSERT OR UPDATE ON estuary_dynamic
                FOR EACH ROW EXECUTE FUNCTION estuary_lease_touch()
            """,
        ],
        [
            // Incremental reads of the configuration (`version > cursor`, on every notification) find their rows
            // through an index instead of scanning every stream.
            "CREATE INDEX IF NOT EXISTS estuary_streams_version ON estuary_streams (version)",
            "CREATE INDEX IF NOT EXISTS estuary_templates_version ON estuary_templates (version)",
            "CREATE INDEX IF NOT EXISTS estuary_episodes_version ON estuary_episodes (version)",
        ],
    ]

    /// The upper bound of every incremental read (`version > cursor AND version <= versionUpperBound`), always true:
    /// without statistics on a table (a new cluster's first minute) PostgreSQL guesses that `version > cursor`
    /// keeps a third of the rows and scans them all, while for a bounded range it guesses half a percent and
    /// uses the `version` index.
    static let versionUpperBound = Int64.max

    /// The schema version ``migrate(_:logger:)`` brings a database to.
    public static var latestVersion: Int { migrations.count }

    /// Brings the schema up to date on `connection`.
    public static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "CREATE TABLE IF NOT EXISTS estuary_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            logger: logger)
        let applied = try await currentVersion(connection, logger: logger)
        guard applied < migrations.count else { return }
        try await connection.query("BEGIN", logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_xact_lock(74770001)", logger: logger)
            let current = try await currentVersion(connection, logger: logger)
            for index in current..<migrations.count {
                for statement in migrations[index] {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let version = index + 1
                try await connection.query("INSERT INTO estuary_schema_migrations(version) VALUES (\(version))", logger: logger)
                logger.info("applied schema migration", metadata: ["version": "\(version)"])
            }
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    private static func currentVersion(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query("SELECT coalesce(max(version), 0)::int8 FROM estuary_schema_migrations", logger: logger)
        for try await version in rows.decode(Int64.self) { return Int(version) }
        return 0
    }
}
