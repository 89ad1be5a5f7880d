/// Why an admin write was refused. Each case carries what to show the operator.
public enum AdminError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The upstream cannot be written through (a file or HTTP upstream).
    case readOnly(upstream: String)
    /// The entry is invalid; the error names the field.
    case invalid(CentralConfigError)
    /// The named entry does not exist.
    case notFound(what: String)
    /// The upstream did not answer.
    case unavailable(reason: String)

    public var description: String {
        switch self {
        case .readOnly(let upstream): "the upstream \(upstream) is read-only: edit it at its source"
        case .invalid(let error): error.description
        case .notFound(let what): "\(what) not found"
        case .unavailable(let reason): "upstream unavailable: \(reason)"
        }
    }
}
