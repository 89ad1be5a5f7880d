import EstuaryTestSupport
import Logging
import PostgresNIO
import Testing

@testable import EstuarySidecar

/// The incremental lease read against a real PostgreSQL, with the transactions it must not miss made on purpose.
@Suite struct LeaseReadTests {
    /// A transaction whose id is newer than every finished one is not listed as running in a reader's snapshot
    /// (PostgreSQL lists only ids below the snapshot's `xmax`). When it writes a lease row whose version is below
    /// one an older transaction committed first, and commits after a read, the next incremental read must still
    /// find the row: reading versions above the cursor and the rows of the transactions listed as running did not.
    @Test(.enabled(if: PostgresServer.enabled), .timeLimit(.minutes(1)))
    func aRowOfATransactionNewerThanTheReadersSnapshotIsFound() async throws {
        // A free port: bound, noted, closed (PostgreSQL binds it next).
        let socket = try ListeningSocket(listen: false)
        socket.close()
        let server = try PostgresServer.start(port: socket.port)
        defer { server.destroy() }
        var logger = Logger(label: "test.leases")
        logger.logLevel = .critical
        let url = try PostgresURL(server.url)
        let links = (0..<3).map { _ in PostgresLink(settings: url, logger: logger) }
        let reader = try await links[0].connection()
        let older = try await links[1].connection()
        let newer = try await links[2].connection()
        try await older.query("BEGIN", logger: logger)
        _ = try await older.query("SELECT pg_current_xact_id()", logger: logger).collect()
        try await newer.query("BEGIN", logger: logger)
        _ = try await newer.query("SELECT pg_current_xact_id()", logger: logger).collect()
        // The newer transaction takes the lower version, the older one the higher, and commits first.
        try await newer.query(
            "INSERT INTO estuary_leases(role, stream, node, epoch) VALUES ('ingest', 'late', 'ingest-1', 1)", logger: logger)
        try await older.query(
            "INSERT INTO estuary_leases(role, stream, node, epoch) VALUES ('ingest', 'early', 'ingest-2', 1)", logger: logger)
        try await older.query("COMMIT", logger: logger)

        let coordinator = LeaseCoordinator(
            link: links[0], identity: SidecarIdentity(hostname: "ingest-0"), planner: LeasePlanner(me: "ingest-0", role: "ingest"),
            logger: logger)
        var version: Int64 = -1
        var leases: [StreamKey: Lease] = [:]
        var touched: Set<StreamKey>?
        var cursor = LeaseCoordinator.ReadCursor()
        try await coordinator.refreshLeases(reader, leaseVersion: &version, leases: &leases, touched: &touched, dynamic: &cursor)
        let early = StreamKey(role: "ingest", name: "early")
        let late = StreamKey(role: "ingest", name: "late")
        #expect(leases[early] == Lease(node: "ingest-2", epoch: 1))
        #expect(leases[late] == nil, "the newer transaction has not committed yet")
        #expect(cursor.inFlight.isEmpty, "the newer transaction, still running, is not listed: its id is at or above xmax")

        try await newer.query("COMMIT", logger: logger)
        touched = []
        try await coordinator.refreshLeases(reader, leaseVersion: &version, leases: &leases, touched: &touched, dynamic: &cursor)
        #expect(leases[late] == Lease(node: "ingest-1", epoch: 1), "the row committed after the read, below its cursor")
        #expect(touched == [late])
        for link in links { await link.close() }
    }
}
