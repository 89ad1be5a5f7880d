extension StreamConfig {
    /// Reads and validates one stream from a parsed document.
    ///
    /// - Parameters:
    ///   - label: how to name the stream in errors until its name is known (`streams[3]`).
    ///   - fallbackName: the name to use when the value has none.
    ///   - unknownPrefix: put before unknown field names (`streams.`).
    ///   - unknownFields: receives the unknown field names.
    static func read(
        _ value: ConfigValue,
        label: String,
        fallbackName: String? = nil,
        unknownPrefix: String = "",
        unknownFields: inout Set<String>
    ) throws(StreamConfigError) -> StreamConfig {
        guard case .object = value else { throw .notAnObject(stream: label) }
        var stream = label
        // Unknown fields are reported for invalid streams too, as far as they were read.
        var unknown = Set<String>()
        defer { unknownFields.formUnion(unknown.map { unknownPrefix + $0 }) }
        do {
            var reader = try ObjectReader(value, path: "", namePath: "")
            guard let name = try reader.string("name") ?? fallbackName else { throw FieldError.missing("name") }
            stream = name
            let config = try read(name: name, from: &reader, unknownFields: &unknown)
            unknown.formUnion(reader.unknownFields)
            try config.validate()
            return config
        } catch let error as FieldError {
            throw StreamConfigError(stream: stream, error)
        } catch let error as StreamConfigError {
            throw error
        } catch {
            throw .invalidField(stream: stream, field: "", reason: String(describing: error))
        }
    }

    private static func read(
        name: String,
        from reader: inout ObjectReader,
        unknownFields: inout Set<String>
    ) throws(FieldError) -> StreamConfig {
        var config = StreamConfig(name: name)
        config.isStatic = try reader.bool("static") ?? true
        if let inputs = try reader.list("inputs") {
            config.inputs = try inputs.map { (path, value) throws(FieldError) in
                try InputConfig.read(value, path: path, namePath: reader.namePath(of: "inputs"), unknownFields: &unknownFields)
            }
        }
        if var dvr = try reader.object("dvr") {
            config.dvr = try DVRConfig.read(from: &dvr)
            unknownFields.formUnion(dvr.unknownFields)
        }
        if var ingest = try reader.object("cluster_ingest") {
            config.clusterIngest = ClusterIngestConfig(captureAt: try ingest.nonEmptyString("capture_at"))
            unknownFields.formUnion(ingest.unknownFields)
        }
        if let pushes = try reader.list("pushes") {
            config.pushes = try pushes.map { (path, value) throws(FieldError) in
                if case .string(let url) = value { return PushConfig(url: url) }
                var push = try ObjectReader(value, path: path, namePath: reader.namePath(of: "pushes"))
                let url = try push.requiredString("url")
                unknownFields.formUnion(push.unknownFields)
                return PushConfig(url: url)
            }
        }
        config.password = try reader.nonEmptyString("password")
        config.onPlay = try AccessConfig.readBackendURL("on_play", &reader)
        config.onPublish = try AccessConfig.readBackendURL("on_publish", &reader)
        return config
    }
}

extension InputConfig {
    /// Reads one input: an object, or a bare URL string.
    static func read(
        _ value: ConfigValue,
        path: String,
        namePath: String,
        unknownFields: inout Set<String>
    ) throws(FieldError) -> InputConfig {
        if case .string(let url) = value { return InputConfig(url: url, sourceTimeout: InputConfig.defaultSourceTimeout(for: url)) }
        var reader = try ObjectReader(value, path: path, namePath: namePath)
        let url = try reader.requiredString("url")
        let input = InputConfig(
            url: url,
            sourceTimeout: try reader.duration("source_timeout") ?? InputConfig.defaultSourceTimeout(for: url),
            priority: try reader.int("priority") ?? 0,
            clusterKey: try reader.nonEmptyString("cluster_key")
        )
        unknownFields.formUnion(reader.unknownFields)
        return input
    }
}

extension DVRConfig {
    /// Reads the recording settings; the caller collects `reader.unknownFields`.
    static func read(from reader: inout ObjectReader) throws(FieldError) -> DVRConfig {
        DVRConfig(
            root: try reader.requiredString("root"),
            expiration: try reader.duration("expiration") ?? 0,
            storageLimit: try reader.byteSize("storage_limit") ?? 0,
            diskUsageLimit: try reader.int("disk_usage_limit") ?? 0,
            episodesURL: try reader.nonEmptyString("episodes_url"),
            episodesExpiration: try reader.duration("episodes_expiration") ?? 0,
            replicate: try reader.bool("dvr_replicate", "replicate") ?? false,
            replicationPort: try reader.int("replication_port"),
            replicationSpeed: try reader.bitRate("replication_speed")
        )
    }
}
