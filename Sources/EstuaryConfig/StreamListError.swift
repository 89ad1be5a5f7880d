/// A stream list document that could not be read at all (as opposed to one invalid stream in it).
public enum StreamListError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The body is not JSON.
    case malformedJSON(reason: String)
    /// The body is not YAML; the position is Yams's (1-based), when it gave one.
    case malformedYAML(reason: String, line: Int?, column: Int?)
    /// The document parsed but holds no list of streams where one was expected.
    case unexpectedShape(reason: String)

    /// The config_external error reason of DESIGN §3: `malformed_json` or `validation_error`.
    public var reasonCode: String {
        switch self {
        case .malformedJSON, .malformedYAML: "malformed_json"
        case .unexpectedShape: "validation_error"
        }
    }

    /// A one-line message, with the YAML position when known.
    public var description: String {
        switch self {
        case .malformedJSON(let reason):
            "malformed JSON: \(reason)"
        case .malformedYAML(let reason, let line, let column):
            "malformed YAML\(positionText(line: line, column: column)): \(reason)"
        case .unexpectedShape(let reason):
            "unexpected stream list: \(reason)"
        }
    }
}
