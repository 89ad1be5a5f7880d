/// Why an archive operation failed. Every case names the stream, file or request part at fault.
public enum DVRError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed on a file (errno text included); `diskFull` when it was ENOSPC/EDQUOT.
    case io(path: String, operation: String, reason: String, diskFull: Bool)
    /// A request asked for a range that cannot be served (in the future, negative, too long).
    case badRange(String)
    /// An imported segment's bytes do not match the checksum it came with.
    case checksumMismatch(startMs: Int64, expected: String, actual: String)
    /// An import body is not an archive M4F stream.
    case malformedImport(String)

    public var description: String {
        switch self {
        case .io(let path, let operation, let reason, _): "\(operation) \(path): \(reason)"
        case .badRange(let reason): "bad range: \(reason)"
        case .checksumMismatch(let start, let expected, let actual):
            "segment at \(start) ms: sha256 \(actual) does not match the announced \(expected)"
        case .malformedImport(let reason): "malformed import: \(reason)"
        }
    }

    /// Whether the failure was a full disk (or quota).
    public var isDiskFull: Bool {
        if case .io(_, _, _, let full) = self { return full }
        return false
    }
}
