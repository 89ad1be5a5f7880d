import GRDB

/// Rows for one table, written `INSERT OR REPLACE` in statements of ``size`` rows each (the last one shorter),
/// inside the caller's transaction.
///
/// A replica writes 10,000 streams at a sidecar's start and hundreds of leases at each claim; one statement per
/// row spent as much in GRDB's and SQLite's per-statement work as in the rows themselves. Rows appended after a
/// failed write are not written: the caller's transaction rolls back.
struct RowBatch {
    /// Rows per statement: 100 rows of 5 columns stay far below SQLite's 32,766 parameters.
    static let size = 100

    private let database: Database
    private let table: String
    private let columns: [String]
    private var values: [(any DatabaseValueConvertible)?] = []
    private var rows = 0

    /// A batch for `columns` of `table`, written through `database`.
    init(_ database: Database, into table: String, columns: [String]) {
        self.database = database
        self.table = table
        self.columns = columns
        values.reserveCapacity(Self.size * columns.count)
    }

    /// Adds a row (one value per column, in order); a full batch is written at once.
    mutating func append(_ row: [(any DatabaseValueConvertible)?]) throws {
        precondition(row.count == columns.count, "a row of \(row.count) values for \(columns.count) columns")
        values.append(contentsOf: row)
        rows += 1
        if rows == Self.size { try flush() }
    }

    /// Writes the rows appended since the last write.
    mutating func flush() throws {
        guard rows > 0 else { return }
        let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        let sql =
            "INSERT OR REPLACE INTO \(table)(\(columns.joined(separator: ", "))) VALUES "
            + Array(repeating: row, count: rows).joined(separator: ", ")
        // Full batches share one prepared statement; the last, shorter one is prepared for itself.
        let statement = rows == Self.size ? try database.cachedStatement(sql: sql) : try database.makeStatement(sql: sql)
        try statement.execute(arguments: StatementArguments(values))
        values.removeAll(keepingCapacity: true)
        rows = 0
    }
}
