import EstuaryConfig
import Foundation
import Testing

@Suite struct StreamPlacementTests {
    /// The placement read from a stream's text, whole or as the two objects a database extracts, is the decoded
    /// configuration's.
    @Test func thePlacementReadFromTextIsTheDecodedConfigurations() throws {
        let texts = [
            #"{"name": "a", "inputs": ["fake://a"]}"#,
            #"{"name": "a", "inputs": ["fake://a"], "cluster_ingest": {"capture_at": "region=eu"}}"#,
            #"{"name": "a", "inputs": ["fake://a"], "cluster_ingest": {"capture_at": ""}}"#,
            #"{"name": "a", "inputs": ["fake://a"], "cluster_ingest": null, "dvr": null}"#,
            #"{"name": "a", "inputs": ["m4f://10.0.0.1:8080/a"], "dvr": {"root": "/storage", "dvr_replicate": true}}"#,
            #"{"name": "a", "inputs": ["m4f://10.0.0.1:8080/a"], "dvr": {"root": "/storage", "replicate": true}}"#,
            #"{"name": "a", "inputs": ["fake://a"], "dvr": {"root": "/storage"}, "cluster_ingest": {"capture_at": "ingest-1"}}"#,
        ]
        var seen: [StreamPlacement] = []
        for text in texts {
            let decoded = try StreamConfig.decode(json: Data(text.utf8)).config
            let placement = try StreamPlacement(streamJSON: Data(text.utf8))
            #expect(placement == StreamPlacement(decoded), "\(text)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            func part(_ key: String) throws -> String? {
                try object[key].map {
                    String(decoding: try JSONSerialization.data(withJSONObject: $0, options: .fragmentsAllowed), as: UTF8.self)
                }
            }
            #expect(StreamPlacement(clusterIngestJSON: try part("cluster_ingest"), dvrJSON: try part("dvr")) == placement, "\(text)")
            seen.append(placement)
        }
        #expect(Set(seen.map(\.captureAt)) == [nil, "region=eu", "ingest-1"])
        #expect(seen.map(\.replicate) == [false, false, false, false, true, true, false])
    }

    /// Text that is not a JSON object is refused, naming why.
    @Test func textThatIsNotAJSONObjectIsRefused() {
        #expect(throws: StreamListError.unexpectedShape(reason: "a stream must be a JSON object")) {
            try StreamPlacement(streamJSON: Data("[1]".utf8))
        }
        #expect {
            try StreamPlacement(streamJSON: Data(#"{"name": "a""#.utf8))
        } throws: { error in
            guard case .malformedJSON = error as? StreamListError else { return false }
            return true
        }
    }
}
