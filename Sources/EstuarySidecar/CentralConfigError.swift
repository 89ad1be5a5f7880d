import EstuaryConfig

/// Why a central configuration, or one entry of it, was rejected. Every case names the entry and field.
public enum CentralConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The document is not YAML/JSON, or not an object with the expected lists.
    case malformedDocument(reason: String)
    /// A stream entry is invalid; the error names the stream and field.
    case invalidStream(role: String, StreamConfigError)
    /// Another entry (`templates[0]`, `episodes[2]`, `nodes[1]`) has a bad field.
    case invalidEntry(entry: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .malformedDocument(let reason): "malformed configuration: \(reason)"
        case .invalidStream(let role, let error): "\(role) \(error)"
        case .invalidEntry(let entry, let field, let reason): "\(entry): \(field): \(reason)"
        }
    }

    /// The offending field's path, when one field is at fault.
    public var field: String? {
        switch self {
        case .malformedDocument: nil
        case .invalidStream(_, let error): error.field
        case .invalidEntry(_, let field, _): field
        }
    }
}
