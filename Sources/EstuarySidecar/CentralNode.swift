import Foundation

/// A node as the central configuration declares it (a file upstream's static `nodes:`), or as its sidecar
/// registered it in PostgreSQL.
public struct CentralNode: Sendable, Equatable, Codable {
    /// Its hostname (`HOSTNAME`), the name `capture_at` uses.
    public var name: String
    /// Its role (`ingest`, `dvr`).
    public var role: String
    /// `host:port` where other nodes reach it (`SIDECAR_ADVERTISE`); empty when unknown.
    public var advertise: String
    /// Labels for `capture_at` selectors, for example `region: eu`.
    public var labels: [String: String]
    /// How many streams it should carry relative to others; 0 means the default weight (1).
    public var capacity: Int

    /// Creates a node.
    public init(name: String, role: String = "ingest", advertise: String = "", labels: [String: String] = [:], capacity: Int = 0) {
        self.name = name
        self.role = role
        self.advertise = advertise
        self.labels = labels
        self.capacity = capacity
    }

    /// Whether `selector` (a `capture_at` value) picks this node: its name, or `key=value[,key=value…]` that
    /// all match its labels.
    public func matches(selector: String) -> Bool {
        guard selector.contains("=") else { return selector == name }
        for clause in selector.split(separator: ",") {
            let parts = clause.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, labels[parts[0]] == parts[1] else { return false }
        }
        return true
    }
}
