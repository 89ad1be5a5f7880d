/// Why the node's settings could not be resolved.
public enum NodeSettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A flag or environment variable (named in `source`) holds an unusable value.
    case invalidValue(source: String, value: String, reason: String)
    /// The YAML file could not be loaded.
    case config(NodeConfigError)

    /// A one-line message naming the flag, variable or file.
    public var description: String {
        switch self {
        case .invalidValue(let source, let value, let reason): "\(source)='\(value)': \(reason)"
        case .config(let error): error.description
        }
    }
}
