/// What ``APIAccessPolicy`` decides about one request.
public enum AccessDecision: Sendable, Equatable {
    case allowed
    /// No credential, or a wrong one (401). The reason names which, never the credential.
    case unauthorized(reason: String)
    /// A right credential with too little right (403).
    case forbidden(reason: String)
}
