/// A `sources` entry: another node whose streams this node takes (Flussonic's `source` block).
public struct SourceConfig: Sendable, Equatable {
    /// `url`: the other node, `m4f://host:port` (or `m4fs://`).
    public var url: String
    /// `dvr`: recording settings for every stream taken from this source.
    public var dvr: DVRConfig?
    /// `only`: take only these stream names; `nil` takes all.
    public var only: [String]?
    /// `except`: never take these stream names.
    public var except: [String]?

    /// Creates a source; it is not validated.
    public init(url: String, dvr: DVRConfig? = nil, only: [String]? = nil, except: [String]? = nil) {
        self.url = url
        self.dvr = dvr
        self.only = only
        self.except = except
    }

    /// Whether the stream `name` of this source is taken, by `only` and `except`.
    public func includes(_ name: String) -> Bool {
        if let only, !only.contains(name) { return false }
        if let except, except.contains(name) { return false }
        return true
    }

    /// The source node's HTTP base for its API, `http://host:port` (`https://` for `m4fs://`); nil without a host.
    public var apiBase: String? {
        guard let hostPort = URLText.hostAndPort(of: url), !hostPort.isEmpty else { return nil }
        return "\(URLText.scheme(of: url) == "m4fs" ? "https" : "http")://\(hostPort)"
    }

    /// The configuration of the source's stream `name` on this node: one input `url/name` and this
    /// source's `dvr`.
    public func streamConfig(name: String) -> StreamConfig {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        return StreamConfig(name: name, inputs: [InputConfig(url: "\(base)/\(name)")], dvr: dvr)
    }

    static func read(_ value: ConfigValue, path: String, unknownFields: inout Set<String>) throws(FieldError) -> SourceConfig {
        var reader: ObjectReader
        if case .string(let url) = value {
            reader = try ObjectReader(.object(["url": .string(url)]), path: path, namePath: "sources")
        } else {
            reader = try ObjectReader(value, path: path, namePath: "sources")
        }
        var source = SourceConfig(url: try reader.requiredString("url"))
        let scheme = URLText.scheme(of: source.url)
        guard scheme == "m4f" || scheme == "m4fs", !(URLText.hostAndPort(of: source.url)?.isEmpty ?? true) else {
            throw FieldError(field: reader.fieldPath("url"), reason: "expected m4f://host:port\(URLText.describe(source.url))")
        }
        if var dvr = try reader.object("dvr") {
            let config = try DVRConfig.read(from: &dvr)
            if let problem = config.validationProblem(path: dvr.path) { throw problem }
            source.dvr = config
            unknownFields.formUnion(dvr.unknownFields)
        }
        source.only = try reader.stringList("only")
        source.except = try reader.stringList("except")
        unknownFields.formUnion(reader.unknownFields)
        return source
    }
}
