/// One finished request to the configuration backend, as reported to the client's observer (metrics).
public struct ConfigBackendRequest: Sendable {
    /// Which endpoint was asked.
    public var endpoint: ConfigBackendEndpoint
    /// `nil` when the request succeeded; otherwise why it failed.
    public var failure: ConfigExternalReason?
    /// From sending the request to the end of the body (or the failure).
    public var duration: Duration
    /// Body bytes received.
    public var bytes: Int

    /// The metric label: `ok` or the failure reason.
    public var outcome: String { failure?.rawValue ?? "ok" }
}
