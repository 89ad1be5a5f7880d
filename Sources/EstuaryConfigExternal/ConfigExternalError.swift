import EstuaryConfig

/// A failure talking to the configuration backend, or a problem in what it answered.
///
/// Guarantees: ``detail`` names what was wrong (the endpoint, the HTTP status, the offending stream and
/// field) and never holds a secret: URLs in it are masked.
public struct ConfigExternalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The machine-readable reason (`network_error`, `malformed_json`, …).
    public var reason: ConfigExternalReason
    /// A one-line explanation for operators.
    public var detail: String

    /// Creates an error.
    public init(_ reason: ConfigExternalReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    /// The error for one stream entry the backend returned and the node rejected.
    public init(invalidStream error: StreamConfigError) {
        self.init(.validationError, error.description)
    }

    /// The error for a stream list document that could not be read at all.
    public init(endpoint: ConfigBackendEndpoint, list error: StreamListError) {
        let reason: ConfigExternalReason = error.reasonCode == "malformed_json" ? .malformedJSON : .validationError
        self.init(reason, "/\(endpoint.pathComponent): \(error)")
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}
