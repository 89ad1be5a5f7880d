/// An `on_play`/`on_publish` backend's answer.
public enum AuthorizationVerdict: Sendable, Equatable {
    /// 2xx.
    case allowed
    /// 401, 403 or any other 4xx: the status is kept for the log.
    case denied(status: Int)
    /// No answer, or 5xx: the backend could not decide. The reason names the failure, with the URL masked.
    case unavailable(reason: String)
}
