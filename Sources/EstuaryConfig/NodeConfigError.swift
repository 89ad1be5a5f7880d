/// Why the node's configuration file could not be loaded at all.
public enum NodeConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// A YAML syntax error; the position is Yams's (1-based), when it gave one.
    case yaml(reason: String, line: Int?, column: Int?)
    /// A server option or source is invalid (`listen.http`, `sources[0].url`).
    case invalidField(field: String, reason: String)
    /// Two streams in the file share this name.
    case duplicateStream(name: String)

    /// A one-line message naming the file position, field or stream.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read configuration file '\(path)': \(reason)"
        case .yaml(let reason, let line, let column):
            "configuration file is not valid YAML\(positionText(line: line, column: column)): \(reason)"
        case .invalidField(let field, let reason):
            "configuration: \(field): \(reason)"
        case .duplicateStream(let name):
            "configuration: stream '\(name)' is defined more than once"
        }
    }
}
