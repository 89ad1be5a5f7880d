/// Why a config_external cycle or request failed: the `reason` of `config_external_error` (DESIGN §3).
public enum ConfigExternalReason: String, Sendable, Codable, CaseIterable {
    /// The backend could not be reached or could not answer: connection refused, reset, timeout (5 s), or an
    /// HTTP 5xx status.
    case networkError = "network_error"
    /// The body is not JSON, or not a JSON document of the expected kind.
    case malformedJSON = "malformed_json"
    /// The document parsed but an entry in it is invalid (a stream field, the list's shape), or a stream the
    /// backend returned is also defined in the node's YAML file.
    case validationError = "validation_error"
    /// The backend refused the request (HTTP 4xx), or the configured URL itself is unusable.
    case invalidRequest = "invalid_request"
    /// Anything else: an unexpected status such as 3xx.
    case unknown
}
