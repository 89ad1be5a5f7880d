/// A malformed codec bitstream or configuration, naming what was wrong.
public enum MediaFormatError: Error, Equatable, CustomStringConvertible {
    /// A parameter set or header ended before the named field.
    case truncated(what: String)
    /// A field held a value the format does not allow.
    case invalidField(what: String, value: Int)
    /// A feature this parser does not handle.
    case unsupported(what: String)

    public var description: String {
        switch self {
        case .truncated(let what): "truncated \(what)"
        case .invalidField(let what, let value): "invalid \(what): \(value)"
        case .unsupported(let what): "unsupported \(what)"
        }
    }
}
