import EstuaryConfig
import EstuaryNode
import EstuaryReplication

/// The embedded sample cluster of `estuary local`: `ingest-0` captures three test streams;
/// `ingest-1` pulls one of them over M4F with the cluster key, as a second node would; `dvr-0` records two
/// of them from `ingest-0` over M4F into `storage`; `dvr-1` records `fake1` from `dvr-0` and a replicator
/// fills its archive from `dvr-0`'s.
enum LocalCluster {
    struct Member {
        var options: NodeOptions
        var streams: [StreamConfig]
    }

    static let clusterKey = "local-development-key"

    static func yaml(basePort: Int, storage: String) -> [String] {
        [
            """
            cluster_key: \(clusterKey)
            streams:
              - name: fake1
                inputs: [{url: "fake://fake1"}]
              - name: fake2
                inputs: [{url: "fake://fake2"}]
              - name: sports/hd
                inputs: [{url: "fake://sports"}]
            """,
            """
            cluster_key: \(clusterKey)
            streams:
              - name: relay1
                inputs: [{url: "m4f://127.0.0.1:\(basePort)/fake1", source_timeout: 5}]
            """,
            """
            cluster_key: \(clusterKey)
            streams:
              - name: fake1
                inputs: [{url: "m4f://127.0.0.1:\(basePort)/fake1", source_timeout: 5}]
                dvr: {root: "\(storage)", expiration: 1d}
              - name: sports/hd
                inputs: [{url: "m4f://127.0.0.1:\(basePort)/sports/hd", source_timeout: 5}]
                dvr: {root: "\(storage)", expiration: 1d, storage_limit: 2G}
            """,
            """
            cluster_key: \(clusterKey)
            streams:
              - name: fake1
                inputs: [{url: "m4f://127.0.0.1:\(basePort + 2)/fake1", source_timeout: 5}]
                dvr: {root: "\(storage)-replica", expiration: 1d, replicate: true}
            """,
        ]
    }

    /// The replicator beside `dvr-1`, filling its archive from `dvr-0`.
    static func replicatorSettings(basePort: Int) -> ReplicatorSettings {
        ReplicatorSettings(
            listenHost: "127.0.0.1", listenPort: basePort + 10, target: "http://127.0.0.1:\(basePort + 3)", speedLimit: 100_000_000,
            clusterKey: clusterKey)
    }

    /// The role and hostname of the `index`-th member.
    static func identity(_ index: Int) -> (role: String, hostname: String) {
        index < 2 ? ("ingest", "ingest-\(index)") : ("dvr", "dvr-\(index - 2)")
    }

    static func plan(basePort: Int, storage: String) throws -> [Member] {
        try yaml(basePort: basePort, storage: storage).enumerated().map { index, text in
            let (config, _) = try NodeConfig.load(yaml: text)
            let (role, hostname) = identity(index)
            let options = NodeOptions(
                httpHost: "127.0.0.1", httpPort: basePort + index, clusterKey: config.clusterKey, hostname: hostname,
                role: role, shutdownTimeout: .seconds(5))
            return Member(options: options, streams: config.streams)
        }
    }

    static func banner(_ plan: [Member]) -> String {
        var lines = ["Estuary local cluster (Ctrl-C stops it)"]
        for member in plan {
            let base = "http://127.0.0.1:\(member.options.httpPort)"
            lines.append("")
            lines.append("\(member.options.hostname)  API: \(base)/streamer/api/v3/streams   metrics: \(base)/metrics")
            for stream in member.streams {
                let pad = String(repeating: " ", count: stream.name.count)
                lines.append("  \(stream.name): HLS \(base)/\(stream.name)/index.m3u8")
                lines.append("  \(pad)  MPEG-TS \(base)/\(stream.name)/mpegts")
                if let dvr = stream.dvr {
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
        lines.append(
            "M4F between nodes is signed with the cluster key; try: ffplay \(plan.first.map { "http://127.0.0.1:\($0.options.httpPort)" } ?? "")/fake2/index.m3u8"
        )
        return lines.joined(separator: "\n")
    }
}
