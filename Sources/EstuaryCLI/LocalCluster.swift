import EstuaryConfig
import EstuaryNode

/// The embedded sample cluster of `estuary local`: `ingest-0` captures three test streams;
/// `ingest-1` pulls one of them over M4F with the cluster key, as a second node would.
enum LocalCluster {
    struct Member {
        var options: NodeOptions
        var streams: [StreamConfig]
    }

    static let clusterKey = "local-development-key"

    static func yaml(basePort: Int) -> [String] {
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
        ]
    }

    static func plan(basePort: Int) throws -> [Member] {
        try yaml(basePort: basePort).enumerated().map { index, text in
            let (config, _) = try NodeConfig.load(yaml: text)
            let options = NodeOptions(
                httpHost: "127.0.0.1", httpPort: basePort + index, clusterKey: config.clusterKey, hostname: "ingest-\(index)",
                role: "ingest", shutdownTimeout: .seconds(5))
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
                lines.append("  \(stream.name): HLS \(base)/\(stream.name)/index.m3u8")
                lines.append("  \(String(repeating: " ", count: stream.name.count))  MPEG-TS \(base)/\(stream.name)/mpegts")
            }
        }
        lines.append("")
        lines.append(
            "M4F between nodes is signed with the cluster key; try: ffplay \(plan.first.map { "http://127.0.0.1:\($0.options.httpPort)" } ?? "")/fake2/index.m3u8"
        )
        return lines.joined(separator: "\n")
    }
}
