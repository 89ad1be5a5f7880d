import Foundation

/// The annotated JSON example of DESIGN §2, verbatim.
let designJSONExample = #"""
    {"name": "cam1",                      // required; [A-Za-z0-9_.\-/]{1,128}, no "..", no leading "/"
     "static": true,                      // default true
     "inputs": [{"url": "rtsp://10.0.0.5/s1", "source_timeout": 10, "priority": 0, "cluster_key": "…"}],
     "dvr": {"root": "/storage", "expiration": 1728000,     // seconds; YAML also takes "20d", "12h", "90m"
             "storage_limit": 0, "disk_usage_limit": 95,      // bytes (YAML "500G"); percent of the disk
             "episodes_url": "", "episodes_expiration": 0,
             "dvr_replicate": false, "replication_port": 8002, "replication_speed": "100M"},  // bits/s
     "cluster_ingest": {"capture_at": "ingest-0"}}
    """#

/// The node YAML example of DESIGN §2, verbatim.
let designYAMLExample = """
    cluster_key: abcd                 # shared secret between nodes (§4.3)
    config_external: http://127.0.0.1:8070/streams   # the env var wins over this line
    listen: {http: 8080, rtmp: 1935, replication: 8002}
    sources:                          # Flussonic's `source streamer:8081 { dvr /storage 20d replicate; }`
      - url: m4f://streamer:8081      # take every stream the source has (filter with only/except)
        dvr: {root: /storage, expiration: 20d, replicate: true}
    streams:
      - name: repl_example1
        inputs: [{url: m4f://streamer:8081/fake2}]
        dvr: {root: /storage, expiration: 7d, replicate: true, replication_port: 8002}
    """

/// Removes `//` comments that stand outside JSON strings.
func strippingJSONComments(_ text: String) -> String {
    var output = ""
    var inString = false
    var escaped = false
    var index = text.startIndex
    while index < text.endIndex {
        let char = text[index]
        if inString {
            output.append(char)
            if escaped {
                escaped = false
            } else if char == "\\" {
                escaped = true
            } else if char == "\"" {
                inString = false
            }
        } else if char == "/", text[index...].hasPrefix("//") {
            while index < text.endIndex, text[index] != "\n" { index = text.index(after: index) }
            continue
        } else {
            if char == "\"" { inString = true }
            output.append(char)
        }
        index = text.index(after: index)
    }
    return output
}

/// The key paths of a JSON object: `name`, `inputs[].url`, `dvr.root`, … (sorted).
func jsonKeyPaths(_ data: Data) throws -> [String] {
    func walk(_ value: Any, _ prefix: String, into paths: inout Set<String>) {
        if let object = value as? [String: Any] {
            for (key, child) in object {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                paths.insert(path)
                walk(child, path, into: &paths)
            }
        } else if let array = value as? [Any] {
            for child in array { walk(child, prefix + "[]", into: &paths) }
        }
    }
    var paths = Set<String>()
    walk(try JSONSerialization.jsonObject(with: data), "", into: &paths)
    return paths.sorted()
}

/// A minimal valid stream object as JSON text with `extra` fields spliced in.
func streamJSON(_ name: String = "cam1", _ extra: String = "") -> String {
    let more = extra.isEmpty ? "" : ", \(extra)"
    return #"{"name": "\#(name)", "inputs": [{"url": "rtsp://10.0.0.5/s1"}]\#(more)}"#
}
