/// Where the central configuration comes from (`SIDECAR_UPSTREAM`): a YAML file, PostgreSQL, or another
/// config_external backend.
public protocol CentralUpstream: Sendable {
    /// The upstream for logs and `/status`, with secrets masked.
    var label: String { get }
    /// Whether admin writes go through to it.
    var isWritable: Bool { get }
    /// Replicates into `state` until the task is cancelled: every new whole configuration goes to
    /// ``SidecarState/deliver(_:)``, every failure to ``SidecarState/fail(_:_:)``.
    func run(into state: SidecarState) async
    /// Writes an admin change through.
    func apply(_ change: AdminChange) async throws(AdminError)
}
