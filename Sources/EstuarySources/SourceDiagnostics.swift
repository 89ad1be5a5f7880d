import Logging
import Synchronization

/// Counts and logs recoverable input errors (damaged packets and boxes) per input, so that a
/// source can keep running while the node reports what was wrong.
public enum SourceDiagnostics {
    private static let counts = Mutex<[String: (count: Int, last: String)]>([:])
    private static let logger = Logger(label: "estuary.source")

    /// Records a recoverable error of an input.
    public static func report(_ input: String, _ message: String) {
        let count = counts.withLock { counts in
            let next = (counts[input]?.count ?? 0) + 1
            counts[input] = (next, message)
            return next
        }
        // Log the first errors of an input and then every 100th, so garbage cannot flood logs.
        if count <= 5 || count % 100 == 0 {
            logger.warning(
                "input error", metadata: ["input": .string(input), "error": .string(message), "count": .stringConvertible(count)])
        }
    }

    /// The number of recoverable errors and the last one, per input.
    public static func errors(for input: String) -> (count: Int, last: String)? {
        counts.withLock { $0[input] }
    }
}
