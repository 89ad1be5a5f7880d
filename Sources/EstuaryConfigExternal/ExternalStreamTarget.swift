import EstuaryConfig

/// What ``ConfigSync`` drives: the node's set of streams that came from the backend.
public protocol ExternalStreamTarget: Sendable {
    /// The names of running streams that came from the backend (its list or a dynamic request).
    func externalStreamNames() -> Set<String>
    /// Starts the streams of `configs` that do not run, restarts those whose configuration changed, leaves the
    /// rest untouched, and stops the backend's streams named in `stopping`.
    ///
    /// - Returns: the names refused because another origin (the YAML file, the API) defines them.
    func applyExternal(_ configs: [StreamConfig], stopping: [String]) -> [String]
}
