/// Something worth logging about a configuration that still loaded.
public enum ConfigWarning: Sendable, Equatable, CustomStringConvertible {
    /// A field nobody reads, reported once per name (`streams.dvr.foo`, `colour`).
    case unknownField(String)
    /// A stream that was left out; the others run.
    case invalidStream(StreamConfigError)

    /// A one-line message.
    public var description: String {
        switch self {
        case .unknownField(let name): "unknown field '\(name)' ignored"
        case .invalidStream(let error): "invalid stream ignored: \(error)"
        }
    }
}
