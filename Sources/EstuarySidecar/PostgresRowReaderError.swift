/// A row shorter than its reader expected.
enum PostgresRowReaderError: Error, Sendable, Equatable {
    /// The row has no column at this index (the count of its columns).
    case missingColumn(index: Int)
}
