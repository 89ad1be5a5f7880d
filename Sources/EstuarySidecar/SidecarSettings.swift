import EstuaryConfig
import Foundation

/// A config-sidecar's settings (DESIGN §7): flags win over the environment.
public struct SidecarSettings: Sendable, Equatable {
    /// The listener (`SIDECAR_LISTEN`, default `127.0.0.1:8070`). Port 0 picks a free one.
    public var listenHost: String
    public var listenPort: Int
    /// `SIDECAR_UPSTREAM`: `file://…yaml`, `postgres://…` or `http(s)://…`.
    public var upstream: String
    /// `SIDECAR_REPLICA`: the SQLite file; `nil` keeps the replica in memory only (tests, `estuary local`).
    public var replicaPath: String?
    /// Who the node is (`HOSTNAME`, `ESTUARY_ROLE`, `SIDECAR_ADVERTISE`, `SIDECAR_LABELS`, `SIDECAR_CAPACITY`).
    public var identity: SidecarIdentity
    /// `SIDECAR_NODE_URL`: the node's API, probed for readiness and load (default `http://127.0.0.1:8080`);
    /// empty turns the probe off and reports the node ready.
    public var nodeURL: String
    /// `X-Config-Server-Separate-Endpoints` in answers (`SIDECAR_SEPARATE_ENDPOINTS`, default true).
    public var separateEndpoints: Bool
    /// `X-Config-Server-Dynamic-Streams` (`SIDECAR_DYNAMIC_STREAMS`, default true).
    public var dynamicStreams: Bool
    /// `X-Config-Server-Episodes` (`SIDECAR_EPISODES`, default true).
    public var episodes: Bool
    /// `X-Config-Server-Poll-Interval`, seconds (`SIDECAR_POLL_INTERVAL`, default 1): how often the node cycles.
    public var pollInterval: Double
    /// Seconds without a heartbeat after which a node is dead (`SIDECAR_DEAD_AFTER`, default 2).
    public var deadAfter: Double
    /// Whether to move streams between nodes to even out load (`SIDECAR_REBALANCE`, default true).
    public var rebalance: Bool

    /// Who may use the admin API and `/metrics`: `ESTUARY_API_TOKEN`, `ESTUARY_EDIT_AUTH`, `ESTUARY_VIEW_AUTH`,
    /// `ESTUARY_METRICS_AUTH`, as on the nodes (issue 9); the config_external endpoints its node reads stay open.
    public var access = AccessConfig()

    /// Creates settings with the defaults.
    public init(
        listenHost: String = "127.0.0.1", listenPort: Int = 8070, upstream: String, replicaPath: String? = nil,
        identity: SidecarIdentity, nodeURL: String = "http://127.0.0.1:8080", separateEndpoints: Bool = true,
        dynamicStreams: Bool = true, episodes: Bool = true, pollInterval: Double = 1, deadAfter: Double = 2, rebalance: Bool = true
    ) {
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.upstream = upstream
        self.replicaPath = replicaPath
        self.identity = identity
        self.nodeURL = nodeURL
        self.separateEndpoints = separateEndpoints
        self.dynamicStreams = dynamicStreams
        self.episodes = episodes
        self.pollInterval = pollInterval
        self.deadAfter = deadAfter
        self.rebalance = rebalance
    }

    /// Reads the environment; `flags` (by environment name, `nil` when not given) win.
    public static func resolve(flags: [String: String?], environment: [String: String]) throws(SidecarSettingsError) -> SidecarSettings {
        func value(_ name: String) -> String? {
            if let flag = flags[name], let flag { return flag }
            return environment[name].flatMap { $0.isEmpty ? nil : $0 }
        }
        func bool(_ name: String, _ fallback: Bool) throws(SidecarSettingsError) -> Bool {
            guard let text = value(name) else { return fallback }
            switch text.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw .invalidSetting(name: name, value: text, reason: "expected true or false")
            }
        }
        func number(_ name: String, _ fallback: Double) throws(SidecarSettingsError) -> Double {
            guard let text = value(name) else { return fallback }
            guard let number = Double(text), number > 0, number.isFinite else {
                throw .invalidSetting(name: name, value: text, reason: "expected a positive number of seconds")
            }
            return number
        }
        let listen = value("SIDECAR_LISTEN") ?? "127.0.0.1:8070"
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port)
        else {
            throw .invalidSetting(name: "SIDECAR_LISTEN", value: listen, reason: "expected HOST:PORT")
        }
        guard let upstream = value("SIDECAR_UPSTREAM") else {
            throw .invalidSetting(name: "SIDECAR_UPSTREAM", value: "", reason: "is required (file://…yaml, postgres://… or http://…)")
        }
        var labels: [String: String] = [:]
        if let text = value("SIDECAR_LABELS") {
            for clause in text.split(separator: ",") {
                let parts = clause.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw .invalidSetting(name: "SIDECAR_LABELS", value: text, reason: "expected key=value,key=value")
                }
                labels[parts[0]] = parts[1]
            }
        }
        let role = value("ESTUARY_ROLE") ?? "ingest"
        guard CentralDocument.isRoleName(role) else {
            throw .invalidSetting(name: "ESTUARY_ROLE", value: role, reason: "expected a role name such as ingest or dvr")
        }
        var capacity = 0
        if let text = value("SIDECAR_CAPACITY") {
            guard let number = Int(text), number >= 0 else {
                throw .invalidSetting(name: "SIDECAR_CAPACITY", value: text, reason: "expected a whole number")
            }
            capacity = number
        }
        let hostname = value("HOSTNAME") ?? ProcessInfo.processInfo.hostName
        let identity = SidecarIdentity(
            hostname: hostname, role: role, advertise: value("SIDECAR_ADVERTISE") ?? "", labels: labels, capacity: capacity)
        let access: AccessConfig
        do {
            access = try AccessConfig().applying(environment: environment)
        } catch {
            guard case .invalidValue(let source, let value, let reason) = error else {
                throw .invalidSetting(name: "access", value: "***", reason: "\(error)")
            }
            throw .invalidSetting(name: source, value: value, reason: reason)
        }
        var settings = SidecarSettings(
            listenHost: String(listen[..<colon]), listenPort: port, upstream: upstream, replicaPath: value("SIDECAR_REPLICA"),
            identity: identity,
            nodeURL: flags["SIDECAR_NODE_URL"].flatMap { $0 } ?? environment["SIDECAR_NODE_URL"] ?? "http://127.0.0.1:8080",
            separateEndpoints: try bool("SIDECAR_SEPARATE_ENDPOINTS", true), dynamicStreams: try bool("SIDECAR_DYNAMIC_STREAMS", true),
            episodes: try bool("SIDECAR_EPISODES", true), pollInterval: try number("SIDECAR_POLL_INTERVAL", 1),
            deadAfter: try number("SIDECAR_DEAD_AFTER", 2), rebalance: try bool("SIDECAR_REBALANCE", true))
        settings.access = access
        return settings
    }
}
