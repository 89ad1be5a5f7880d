import EstuaryConfig
import Foundation

/// A pattern for dynamic names (Flussonic's `template … { prefix …; }`): a name that starts with ``prefix``
/// and is not a configured stream gets ``config`` under that name when a client plays or publishes it.
public struct StreamTemplate: Sendable, Equatable {
    /// The role of the nodes that may run such streams.
    public var role: String
    /// The name prefix, for example `live/`.
    public var prefix: String
    /// The configuration given to each matching name (its own name is replaced).
    public var config: StreamConfig

    /// Creates a template.
    public init(role: String = "ingest", prefix: String, config: StreamConfig) {
        self.role = role
        self.prefix = prefix
        self.config = config
    }

    /// Whether its streams are published to (an input is `publish://`): such a stream runs where its publisher
    /// connects, so it is never placed on another node.
    public var isPublished: Bool { config.inputs.contains { $0.url.hasPrefix("publish://") } }

    /// The stream a capture-once planner places for the dynamic name `name`: preferring `node` (the node chosen
    /// when it was first asked for), and staying where it runs when that node returns after a failure.
    public func placedStream(name: String, at node: String) -> CentralStream {
        var config = instantiate(name: name)
        config.clusterIngest = ClusterIngestConfig(captureAt: node)
        return CentralStream(role: role, config: config, failback: .stay)
    }

    /// The configuration of a dynamic stream named `name`; `%s` and `{name}` in input URLs become the name.
    public func instantiate(name: String) -> StreamConfig {
        var config = config
        config.name = name
        config.inputs = config.inputs.map { input in
            var input = input
            input.url = input.url.replacingOccurrences(of: "%s", with: name).replacingOccurrences(of: "{name}", with: name)
            return input
        }
        return config
    }
}
