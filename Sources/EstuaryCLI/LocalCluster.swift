import EstuaryConfig
import EstuaryNode
import EstuaryReplication
import EstuarySidecar

/// The embedded sample cluster of `estuary local`, driven the way production is: one central configuration
/// (a YAML file, the sidecars' file upstream) and a config-sidecar beside every node serving it config_external.
///
/// - `ingest-0` captures three test streams; `ingest-1` relays one of them over M4F as `relay1`;
/// - `dvr-0` records two of them, following the ingest node that captures each (`m4f://@ingest/NAME`);
/// - `dvr-1` (role `dvr-replica`) records `fake1` from `dvr-0`, and a replicator fills its archive from `dvr-0`'s.
enum LocalCluster {
    struct Member {
        var options: NodeOptions
        var sidecar: SidecarSettings
    }

    static let clusterKey = "local-development-key"

    /// The central configuration: nodes, streams by role, an episode-free start.
    static func centralYAML(basePort: Int, storage: String) -> String {
        """
        # The central configuration of `estuary local` (the sidecars' file upstream). Edit it while the cluster
        # runs: every sidecar re-reads it within a second and its node follows on its next cycle.
        nodes:
          - {name: ingest-0, role: ingest, advertise: "127.0.0.1:\(basePort)"}
          - {name: ingest-1, role: ingest, advertise: "127.0.0.1:\(basePort + 1)"}
          - {name: dvr-0, role: dvr, advertise: "127.0.0.1:\(basePort + 2)"}
          - {name: dvr-1, role: dvr-replica, advertise: "127.0.0.1:\(basePort + 3)"}
        streams:
          - {name: fake1, inputs: [{url: "fake://fake1"}], cluster_ingest: {capture_at: ingest-0}}
          - {name: fake2, inputs: [{url: "fake://fake2"}], cluster_ingest: {capture_at: ingest-0}}
          - {name: sports/hd, inputs: [{url: "fake://sports"}], cluster_ingest: {capture_at: ingest-0}}
          - {name: relay1, inputs: [{url: "m4f://@ingest/fake1", source_timeout: 5}], cluster_ingest: {capture_at: ingest-1}}
          - name: fake1
            role: dvr
            inputs: [{url: "m4f://@ingest/fake1", source_timeout: 5}]
            dvr: {root: "\(storage)", expiration: 1d}
          - name: sports/hd
            role: dvr
            inputs: [{url: "m4f://@ingest/sports/hd", source_timeout: 5}]
            dvr: {root: "\(storage)", expiration: 1d, storage_limit: 2G}
          - name: fake1
            role: dvr-replica
            inputs: [{url: "m4f://@dvr/fake1", source_timeout: 5}]
            dvr: {root: "\(storage)-replica", expiration: 1d, replicate: true}
        templates:
          - {prefix: "live/", inputs: [{url: "publish://"}]}
        """
    }

    /// The replicator beside `dvr-1`, filling its archive from `dvr-0`.
    static func replicatorSettings(basePort: Int) -> ReplicatorSettings {
        ReplicatorSettings(
            listenHost: "127.0.0.1", listenPort: basePort + 10, target: "http://127.0.0.1:\(basePort + 3)", speedLimit: 100_000_000,
            clusterKey: clusterKey)
    }

    /// The role and hostname of the `index`-th member.
    static func identity(_ index: Int) -> (role: String, hostname: String) {
        switch index {
        case 0, 1: ("ingest", "ingest-\(index)")
        case 2: ("dvr", "dvr-0")
        default: ("dvr-replica", "dvr-1")
        }
    }

    /// Four nodes on `basePort…basePort+3`, their sidecars on `basePort-10…basePort-7` (8070… by default).
    static func plan(basePort: Int, central: String, replicaDirectory: String) -> [Member] {
        (0..<4).map { index in
            let (role, hostname) = identity(index)
            let sidecarPort = basePort - 10 + index
            var options = NodeOptions(
                httpHost: "127.0.0.1", httpPort: basePort + index, clusterKey: clusterKey, hostname: hostname, role: role,
                shutdownTimeout: .seconds(5), configExternalOverride: "http://127.0.0.1:\(sidecarPort)/streams")
            options.configExternalInterval = .seconds(2) ... .seconds(3)
            // ingest-0 takes RTMP publishers (1935 with the default base port); names under live/ come from the template.
            if index == 0 { options.rtmpPort = basePort - 8080 + 1935 }
            let sidecar = SidecarSettings(
                listenHost: "127.0.0.1", listenPort: sidecarPort, upstream: "file://\(central)",
                replicaPath: "\(replicaDirectory)/sidecar-\(hostname).sqlite",
                identity: SidecarIdentity(hostname: hostname, role: role, advertise: "127.0.0.1:\(basePort + index)"),
                nodeURL: "http://127.0.0.1:\(basePort + index)")
            return Member(options: options, sidecar: sidecar)
        }
    }

    static func banner(_ plan: [Member], central: CentralConfig, centralPath: String) -> String {
        var lines = ["Estuary local cluster (Ctrl-C stops it)", "", "central configuration: \(centralPath) (edit it live)"]
        for member in plan {
            let base = "http://127.0.0.1:\(member.options.httpPort)"
            let node = central.nodes[member.options.hostname] ?? member.sidecar.identity.node
            lines.append("")
            lines.append("\(member.options.hostname)  API: \(base)/streamer/api/v3/streams   metrics: \(base)/metrics")
            lines.append("  config-sidecar: http://127.0.0.1:\(member.sidecar.listenPort)/status")
            if let rtmp = member.options.rtmpPort {
                lines.append("  RTMP publish: rtmp://127.0.0.1:\(rtmp)/live/NAME  (then play \(base)/live/NAME/index.m3u8)")
            }
            for stream in central.streams(role: member.options.role) where stream.captureAt.map(node.matches(selector:)) ?? true {
                let pad = String(repeating: " ", count: stream.name.count)
                lines.append("  \(stream.name): HLS \(base)/\(stream.name)/index.m3u8")
                lines.append("  \(pad)  MPEG-TS \(base)/\(stream.name)/mpegts")
                if let dvr = stream.config.dvr {
                    lines.append("  \(pad)  archive (in \(dvr.root)): \(base)/streamer/api/v3/streams/\(stream.name)/dvr/ranges")
                    lines.append("  \(pad)    \(base)/\(stream.name)/recording_status.json")
                    lines.append("  \(pad)    HLS since FROM (UTC seconds, see ranges): \(base)/\(stream.name)/archive-FROM-now.m3u8")
                    lines.append("  \(pad)    one file: \(base)/\(stream.name)/archive-FROM-60.mp4")
                }
            }
        }
        let replicator = replicatorSettings(basePort: plan.first.map { $0.options.httpPort } ?? 8080)
        lines.append("")
        lines.append(
            "replicator (dvr-0 → dvr-1, \(replicator.speedLimit.map { "\($0 / 1_000_000) Mbit/s" } ?? "no limit")): "
                + "http://127.0.0.1:\(replicator.listenPort)/status   (estuary replication --url http://127.0.0.1:\(replicator.listenPort))"
        )
        lines.append("")
        lines.append("estuary streams ls --sidecar http://127.0.0.1:\(plan.first?.sidecar.listenPort ?? 8070) lists the central streams.")
        lines.append(
            "M4F between nodes is signed with the cluster key; try: ffplay \(plan.first.map { "http://127.0.0.1:\($0.options.httpPort)" } ?? "")/fake2/index.m3u8"
        )
        return lines.joined(separator: "\n")
    }
}
