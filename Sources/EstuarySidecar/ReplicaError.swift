/// Why the local replica could not be read or written. The path is named; SQLite's message is kept.
public enum ReplicaError: Error, Sendable, CustomStringConvertible {
    /// The file could not be opened or created.
    case cannotOpen(path: String, reason: String)
    /// A read or write failed.
    case databaseError(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "replica \(path): cannot open: \(reason)"
        case .databaseError(let path, let reason): "replica \(path): \(reason)"
        }
    }
}
