import Foundation

/// What deciding where a stream runs needs of its configuration: `cluster_ingest.capture_at` and
/// `dvr.replicate`, read without reading and checking the rest of the stream.
///
/// Guarantees: for a stream that ``StreamConfig/decode(json:name:)`` accepts, the values are those of the decoded
/// configuration (``StreamConfig/clusterIngest`` and ``DVRConfig/replicate``), read by the same field rules. For
/// one it rejects they are what could be read (a field of the wrong kind reads as absent).
public struct StreamPlacement: Sendable, Equatable {
    /// `cluster_ingest.capture_at`: a node name or a label selector; `nil` when absent or empty.
    public var captureAt: String?
    /// `dvr.dvr_replicate` (or `dvr.replicate`).
    public var replicate: Bool

    /// Creates the facts.
    public init(captureAt: String? = nil, replicate: Bool = false) {
        self.captureAt = captureAt
        self.replicate = replicate
    }

    /// The facts of a decoded configuration.
    public init(_ config: StreamConfig) {
        self.init(captureAt: config.clusterIngest?.captureAt, replicate: config.dvr?.replicate ?? false)
    }

    /// Reads the facts from a stream's JSON text: parsed, but not read into a ``StreamConfig`` nor checked.
    /// - Throws: ``StreamListError/malformedJSON(reason:)`` for text that is not JSON,
    ///   ``StreamListError/unexpectedShape(reason:)`` for JSON that is not an object.
    public init(streamJSON: Data) throws(StreamListError) {
        guard case .object(let fields) = try ConfigValue.parse(json: streamJSON) else {
            throw .unexpectedShape(reason: "a stream must be a JSON object")
        }
        self.init(clusterIngest: fields["cluster_ingest"], dvr: fields["dvr"])
    }

    /// Reads the facts from the JSON texts of a stream's `cluster_ingest` and `dvr` objects alone (`nil`: the
    /// stream has none), as a database extracts them (`config->'cluster_ingest'`): most streams have neither, and
    /// then nothing is parsed.
    public init(clusterIngestJSON: String?, dvrJSON: String?) {
        let parse = { (text: String?) -> ConfigValue? in
            guard let text, text != "null" else { return nil }
            return try? ConfigValue.parse(json: Data(text.utf8))
        }
        self.init(clusterIngest: parse(clusterIngestJSON), dvr: parse(dvrJSON))
    }

    private init(clusterIngest: ConfigValue?, dvr: ConfigValue?) {
        var captureAt: String?
        var replicate = false
        if let clusterIngest, var reader = try? ObjectReader(clusterIngest, path: "cluster_ingest", namePath: "cluster_ingest") {
            captureAt = try? reader.nonEmptyString("capture_at")
        }
        if let dvr, var reader = try? ObjectReader(dvr, path: "dvr", namePath: "dvr") {
            replicate = (try? reader.bool("dvr_replicate", "replicate")) ?? false
        }
        self.init(captureAt: captureAt, replicate: replicate)
    }
}
