import PostgresNIO

/// Reads a row's columns in order, one cell at a time, each decoded as the type its caller names.
///
/// For the rows every sidecar reads by the thousand (streams at start, leases as they change, the node registry on
/// every pass): decoding a whole row as a tuple goes through PostgresNIO's parameter packs, which looked up type
/// metadata for every row, a tenth of a sidecar's start-up CPU. Each call here is specialised where it is made.
struct PostgresRowReader {
    private var cells: PostgresRow.Iterator
    private var index = 0

    /// Starts at the row's first column.
    init(_ row: PostgresRow) {
        self.cells = row.makeIterator()
    }

    /// The next column, decoded as `type` (an optional type reads SQL `NULL` as `nil`).
    /// - Throws: ``PostgresRowReaderError/missingColumn(index:)`` past the last column, and PostgresNIO's
    ///   `PostgresDecodingError` naming the column when its value is not a `type`.
    mutating func next<Value: PostgresDecodable>(_ type: Value.Type = Value.self) throws -> Value {
        guard let cell = cells.next() else { throw PostgresRowReaderError.missingColumn(index: index) }
        index += 1
        return try cell.decode(Value.self)
    }
}
