import Foundation

extension StreamConfig: Codable {
    /// Decodes and validates a stream; unknown fields are ignored, units in strings are accepted.
    ///
    /// Throws ``StreamConfigError`` for an invalid stream. To learn the unknown fields, or to supply the name
    /// from elsewhere, use ``decode(json:name:)``.
    public init(from decoder: any Decoder) throws {
        var unknown = Set<String>()
        self = try StreamConfig.read(ConfigValue(from: decoder), label: "(unnamed)", unknownFields: &unknown)
    }

    /// Encodes with the wire names of DESIGN §2; `nil` optionals and empty `pushes` are left out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: WireKey.self)
        try container.encode(name, forKey: "name")
        try container.encode(isStatic, forKey: "static")
        try container.encode(inputs, forKey: "inputs")
        try container.encodeIfPresent(dvr, forKey: "dvr")
        try container.encodeIfPresent(clusterIngest, forKey: "cluster_ingest")
        if !pushes.isEmpty {
            try container.encode(pushes, forKey: "pushes")
        }
        try container.encodeIfPresent(password, forKey: "password")
        try container.encodeIfPresent(onPlay, forKey: "on_play")
        try container.encodeIfPresent(onPublish, forKey: "on_publish")
    }

    /// Decodes and validates one stream from JSON (the body of `PUT /streamer/api/v3/streams/{name}`).
    ///
    /// - Parameters:
    ///   - json: one stream object.
    ///   - name: the name to use when the object has no `name` (the name from the request path).
    /// - Returns: the stream and the unknown field names found in it, sorted.
    /// - Throws: ``StreamListError/malformedJSON(reason:)`` for bad JSON, ``StreamConfigError`` for an
    ///   invalid stream.
    public static func decode(json: Data, name: String? = nil) throws -> (config: StreamConfig, unknownFields: [String]) {
        let value = try ConfigValue.parse(json: json)
        var unknown = Set<String>()
        let config = try StreamConfig.read(value, label: name ?? "(unnamed)", fallbackName: name, unknownFields: &unknown)
        return (config, unknown.sorted())
    }

    /// Decodes a stream list leniently from JSON; see ``StreamListDecoder/decode(json:)``.
    public static func decodeList(json: Data) throws(StreamListError) -> DecodedStreamList {
        try StreamListDecoder().decode(json: json)
    }

    /// Decodes a stream list leniently from YAML; see ``StreamListDecoder/decode(yaml:)``.
    public static func decodeList(yaml: String) throws(StreamListError) -> DecodedStreamList {
        try StreamListDecoder().decode(yaml: yaml)
    }
}

extension InputConfig: Codable {
    /// Decodes an input (an object or a bare URL string); it is not validated, unknown fields are ignored.
    public init(from decoder: any Decoder) throws {
        var unknown = Set<String>()
        do {
            self = try InputConfig.read(ConfigValue(from: decoder), path: "input", namePath: "input", unknownFields: &unknown)
        } catch let error as FieldError {
            throw StreamConfigError(stream: "(unnamed)", error)
        }
    }

    /// Encodes with the wire names `url`, `source_timeout`, `priority`, `cluster_key`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: WireKey.self)
        try container.encode(url, forKey: "url")
        try container.encode(sourceTimeout, forKey: "source_timeout")
        try container.encode(priority, forKey: "priority")
        try container.encodeIfPresent(clusterKey, forKey: "cluster_key")
    }
}

extension DVRConfig: Codable {
    /// Decodes recording settings; they are not validated, unknown fields are ignored.
    public init(from decoder: any Decoder) throws {
        do {
            var reader = try ObjectReader(ConfigValue(from: decoder), path: "dvr", namePath: "dvr")
            self = try DVRConfig.read(from: &reader)
        } catch let error as FieldError {
            throw StreamConfigError(stream: "(unnamed)", error)
        }
    }

    /// Encodes with the wire names of DESIGN §2 (`dvr_replicate`, not `replicate`), sizes in bytes, speeds
    /// in bits/s; `episodes_url`, `replication_port`, `replication_speed` only when set.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: WireKey.self)
        try container.encode(root, forKey: "root")
        try container.encode(expiration, forKey: "expiration")
        try container.encode(storageLimit, forKey: "storage_limit")
        try container.encode(diskUsageLimit, forKey: "disk_usage_limit")
        try container.encodeIfPresent(episodesURL, forKey: "episodes_url")
        try container.encode(episodesExpiration, forKey: "episodes_expiration")
        try container.encode(replicate, forKey: "dvr_replicate")
        try container.encodeIfPresent(replicationPort, forKey: "replication_port")
        try container.encodeIfPresent(replicationSpeed, forKey: "replication_speed")
    }
}

extension ClusterIngestConfig: Codable {
    /// Decodes the setting; unknown fields are ignored.
    public init(from decoder: any Decoder) throws {
        do {
            var reader = try ObjectReader(ConfigValue(from: decoder), path: "cluster_ingest", namePath: "cluster_ingest")
            self.init(captureAt: try reader.nonEmptyString("capture_at"))
        } catch let error as FieldError {
            throw StreamConfigError(stream: "(unnamed)", error)
        }
    }

    /// Encodes with the wire name `capture_at`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: WireKey.self)
        try container.encodeIfPresent(captureAt, forKey: "capture_at")
    }
}

extension PushConfig: Codable {
    /// Decodes a push (an object with `url`, or a bare URL string); unknown fields are ignored.
    public init(from decoder: any Decoder) throws {
        let value = try ConfigValue(from: decoder)
        if case .string(let url) = value {
            self.init(url: url)
            return
        }
        do {
            var reader = try ObjectReader(value, path: "push", namePath: "push")
            self.init(url: try reader.requiredString("url"))
        } catch {
            throw StreamConfigError(stream: "(unnamed)", error)
        }
    }

    /// Encodes `{"url": …}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: WireKey.self)
        try container.encode(url, forKey: "url")
    }
}

/// A coding key written as a string literal.
struct WireKey: CodingKey, ExpressibleByStringLiteral {
    var stringValue: String
    var intValue: Int? { nil }

    init(stringValue: String) {
        self.stringValue = stringValue
    }

    init?(intValue: Int) {
        nil
    }

    init(stringLiteral value: String) {
        self.stringValue = value
    }
}
