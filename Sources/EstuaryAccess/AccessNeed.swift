/// The right a request needs, as a listener classifies it.
public enum AccessNeed: Sendable, Equatable {
    /// No credential (`/healthz`, `/readyz`, playback, node-to-node endpoints with their own signature).
    case open
    /// `/metrics`: open unless `metrics_auth` is configured.
    case metrics
    /// Reading the API: open unless `view_auth` or a view token is configured.
    case view
    /// Changing the API (`PUT`, `DELETE`, `POST`).
    case edit
}
