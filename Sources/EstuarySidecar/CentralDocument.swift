import EstuaryConfig
import Foundation
import Yams

/// Reads and writes the central configuration's document form: the file upstream's YAML, the admin API's
/// JSON, and the per-entry JSON the replica and PostgreSQL store.
///
/// ```yaml
/// failback: stay                  # or return; the default for streams that name none
/// nodes:                          # static nodes: advertised addresses and labels for capture_at
///   - {name: ingest-0, role: ingest, advertise: "127.0.0.1:8080", labels: {region: eu}}
/// streams:                        # DESIGN §2 streams, plus role (default ingest) and cluster_ingest.failback
///   - {name: cam1, inputs: [{url: "fake://cam1"}], cluster_ingest: {capture_at: ingest-0, failback: return}}
///   - {name: cam1, role: dvr, inputs: [{url: "m4f://@ingest/cam1"}], dvr: {root: /storage, expiration: 7d}}
/// templates:                      # dynamic names
///   - {prefix: "live/", inputs: [{url: "publish://"}]}
/// episodes:
///   - {id: e1, stream: cam1, opened_at: 1700000000000, closed_at: null}
/// ```
///
/// Reading is all-or-nothing: any invalid entry rejects the document, with every error listed, so a bad edit
/// never replaces a good configuration.
public enum CentralDocument {
    /// Parses a YAML (or JSON, which is YAML) document. An empty document is an empty configuration.
    public static func parse(yaml: String) throws(CentralConfigErrors) -> CentralConfig {
        let tree: Any
        do {
            guard let node = try Yams.compose(yaml: yaml) else { return CentralConfig() }
            tree = plain(node)
        } catch {
            throw CentralConfigErrors([.malformedDocument(reason: "\(error)")])
        }
        return try read(tree)
    }

    /// Parses a JSON document of the same shape.
    public static func parse(json: Data) throws(CentralConfigErrors) -> CentralConfig {
        let tree: Any
        do {
            tree = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
        } catch {
            throw CentralConfigErrors([.malformedDocument(reason: "not JSON: \(error.localizedDescription)")])
        }
        return try read(tree)
    }

    /// Reads a parsed tree (Foundation JSON objects).
    static func read(_ tree: Any) throws(CentralConfigErrors) -> CentralConfig {
        if tree is NSNull { return CentralConfig() }
        guard let document = tree as? [String: Any] else {
            throw CentralConfigErrors([.malformedDocument(reason: "expected an object with 'streams'")])
        }
        var errors: [CentralConfigError] = []
        var failback = FailbackPolicy.stay
        if let value = document["failback"], !(value is NSNull) {
            if let text = value as? String, let policy = FailbackPolicy(rawValue: text) {
                failback = policy
            } else {
                errors.append(.invalidEntry(entry: "configuration", field: "failback", reason: "expected stay or return"))
            }
        }
        var streams: [CentralStream] = []
        var seen = Set<StreamKey>()
        for (index, entry) in list(document, "streams", &errors).enumerated() {
            do throws(CentralConfigError) {
                let stream = try readStream(entry, label: "streams[\(index)]")
                if !seen.insert(stream.key).inserted {
                    throw .invalidStream(role: stream.role, .duplicateName(stream: stream.name))
                }
                streams.append(stream)
            } catch {
                errors.append(error)
            }
        }
        var templates: [StreamTemplate] = []
        for (index, entry) in list(document, "templates", &errors).enumerated() {
            do throws(CentralConfigError) {
                templates.append(try readTemplate(entry, label: "templates[\(index)]"))
            } catch {
                errors.append(error)
            }
        }
        var episodes: [CentralEpisode] = []
        for (index, entry) in list(document, "episodes", &errors).enumerated() {
            do throws(CentralConfigError) {
                episodes.append(try readEpisode(entry, label: "episodes[\(index)]"))
            } catch {
                errors.append(error)
            }
        }
        var nodes: [CentralNode] = []
        for (index, entry) in list(document, "nodes", &errors).enumerated() {
            do throws(CentralConfigError) {
                nodes.append(try readNode(entry, label: "nodes[\(index)]"))
            } catch {
                errors.append(error)
            }
        }
        guard errors.isEmpty else { throw CentralConfigErrors(errors) }
        return CentralConfig(streams: streams, templates: templates, episodes: episodes, nodes: nodes, failback: failback)
    }

    /// Reads one stream entry: a DESIGN §2 stream plus `role` and `cluster_ingest.failback`.
    public static func readStream(
        _ entry: Any, label: String, role defaultRole: String = "ingest"
    ) throws(CentralConfigError)
        -> CentralStream
    {
        guard var object = entry as? [String: Any] else {
            throw .invalidStream(role: defaultRole, .notAnObject(stream: label))
        }
        let name = object["name"] as? String ?? label
        var role = defaultRole
        if let value = object.removeValue(forKey: "role") {
            guard let text = value as? String, isRoleName(text) else {
                throw .invalidStream(
                    role: defaultRole, .invalidField(stream: name, field: "role", reason: "expected a role name such as ingest or dvr"))
            }
            role = text
        }
        var failbackValue = object.removeValue(forKey: "failback")
        if var ingest = object["cluster_ingest"] as? [String: Any] {
            if let value = ingest.removeValue(forKey: "failback") { failbackValue = value }
            object["cluster_ingest"] = ingest
        }
        var failback: FailbackPolicy?
        if let failbackValue, !(failbackValue is NSNull) {
            guard let text = failbackValue as? String, let policy = FailbackPolicy(rawValue: text) else {
                throw .invalidStream(
                    role: role, .invalidField(stream: name, field: "cluster_ingest.failback", reason: "expected stay or return"))
            }
            failback = policy
        }
        let config = try readConfig(object, label: label, role: role)
        return CentralStream(role: role, config: config, failback: failback)
    }

    static func readTemplate(_ entry: Any, label: String) throws(CentralConfigError) -> StreamTemplate {
        guard var object = entry as? [String: Any] else {
            throw .invalidEntry(entry: label, field: "", reason: "expected an object")
        }
        guard let prefix = object.removeValue(forKey: "prefix") as? String, !prefix.isEmpty else {
            throw .invalidEntry(entry: label, field: "prefix", reason: "is required (a non-empty name prefix)")
        }
        let role = object.removeValue(forKey: "role") as? String ?? "ingest"
        // The template is validated as a stream under a name made from its prefix.
        let sample = prefix.hasSuffix("/") ? prefix + "sample" : prefix + "_sample"
        object["name"] = sample
        let config = try readConfig(object, label: label, role: role)
        return StreamTemplate(role: role, prefix: prefix, config: config)
    }

    static func readEpisode(_ entry: Any, label: String) throws(CentralConfigError) -> CentralEpisode {
        guard let object = entry as? [String: Any] else {
            throw .invalidEntry(entry: label, field: "", reason: "expected an object")
        }
        guard let stream = object["stream"] as? String, !stream.isEmpty else {
            throw .invalidEntry(entry: label, field: "stream", reason: "is required")
        }
        guard let openedAt = integer(object["opened_at"]) else {
            throw .invalidEntry(entry: label, field: "opened_at", reason: "is required (UTC milliseconds)")
        }
        var closedAt: Int64?
        if let value = object["closed_at"], !(value is NSNull) {
            guard let closed = integer(value), closed >= openedAt else {
                throw .invalidEntry(entry: label, field: "closed_at", reason: "expected UTC milliseconds not before opened_at, or null")
            }
            closedAt = closed
        }
        let id = (object["id"] as? String) ?? integer(object["id"]).map { String($0) } ?? "\(stream)-\(openedAt)"
        return CentralEpisode(id: id, stream: stream, openedAt: openedAt, updatedAt: integer(object["updated_at"]), closedAt: closedAt)
    }

    static func readNode(_ entry: Any, label: String) throws(CentralConfigError) -> CentralNode {
        guard let object = entry as? [String: Any] else {
            throw .invalidEntry(entry: label, field: "", reason: "expected an object")
        }
        guard let name = object["name"] as? String, !name.isEmpty else {
            throw .invalidEntry(entry: label, field: "name", reason: "is required")
        }
        var labels: [String: String] = [:]
        if let value = object["labels"], !(value is NSNull) {
            guard let map = value as? [String: Any] else {
                throw .invalidEntry(entry: label, field: "labels", reason: "expected an object of strings")
            }
            for (key, value) in map { labels[key] = "\(value)" }
        }
        return CentralNode(
            name: name, role: object["role"] as? String ?? "ingest", advertise: object["advertise"] as? String ?? "",
            labels: labels, capacity: Int(integer(object["capacity"]) ?? 0))
    }

    private static func readConfig(_ object: [String: Any], label: String, role: String) throws(CentralConfigError) -> StreamConfig {
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        } catch {
            throw .invalidStream(role: role, .invalidField(stream: label, field: "", reason: "not representable as JSON"))
        }
        do {
            return try StreamConfig.decode(json: data, name: nil).config
        } catch let error as StreamConfigError {
            throw .invalidStream(role: role, error)
        } catch {
            throw .invalidStream(role: role, .invalidField(stream: label, field: "", reason: "\(error)"))
        }
    }

    // MARK: - Writing

    /// The wire JSON of a node-facing stream configuration (DESIGN §2), keys sorted.
    public static func wireJSON(_ config: StreamConfig) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a validated StreamConfig cannot fail: every field is a plain value.
        return (try? encoder.encode(config)) ?? Data("{}".utf8)
    }

    /// The admin API's JSON object of a central stream: the wire configuration plus `role` and
    /// `cluster_ingest.failback`; for stored text that fails its check, its name and `error` (what is wrong).
    public static func adminObject(_ stream: CentralStream) -> [String: Any] {
        let config: StreamConfig
        do throws(CentralConfigError) {
            config = try stream.decodedConfig()
        } catch {
            return ["name": stream.name, "role": stream.role, "error": "\(error)"]
        }
        var object = (try? JSONSerialization.jsonObject(with: wireJSON(config.maskedForDisplay))) as? [String: Any] ?? [:]
        object["role"] = stream.role
        if let failback = stream.failback {
            var ingest = object["cluster_ingest"] as? [String: Any] ?? [:]
            ingest["failback"] = failback.rawValue
            object["cluster_ingest"] = ingest
        }
        return object
    }

    /// Decodes one stored stream row.
    /// A stream stored as JSON text (a PostgreSQL row, the replica), named `name` whatever its text says (`nil`:
    /// the text's own name, as for a template).
    static func storedStream(role: String, name: String?, failback: String?, json: String) throws(CentralConfigError) -> CentralStream {
        var config: StreamConfig
        do {
            config = try StreamConfig.decode(json: Data(json.utf8), name: name).config
        } catch let error as StreamConfigError {
            throw .invalidStream(role: role, error)
        } catch {
            throw .malformedDocument(reason: "stored stream is not JSON: \(error)")
        }
        if let name { config.name = name }
        return CentralStream(role: role, config: config, failback: failback.flatMap(FailbackPolicy.init(rawValue:)), source: json)
    }

    // MARK: - Helpers

    static func isRoleName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64 && text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    }

    private static func list(_ document: [String: Any], _ key: String, _ errors: inout [CentralConfigError]) -> [Any] {
        guard let value = document[key], !(value is NSNull) else { return [] }
        guard let list = value as? [Any] else {
            errors.append(.malformedDocument(reason: "'\(key)' must be a list"))
            return []
        }
        return list
    }

    static func integer(_ value: Any?) -> Int64? {
        switch value {
        case let number as Int: Int64(number)
        case let number as Int64: number
        case let number as Double: Int64(exactly: number)
        case let number as NSNumber: number.int64Value
        case let text as String: Int64(text)
        default: nil
        }
    }

    /// Converts a YAML node to Foundation JSON objects; plain scalars are typed, quoted ones stay strings.
    private static func plain(_ node: Node) -> Any {
        switch node {
        case .scalar(let scalar):
            guard scalar.style == .plain else { return scalar.string }
            let text = scalar.string
            switch text {
            case "", "~", "null", "Null", "NULL": return NSNull()
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
            if let number = Int(text) { return number }
            if text.contains("."), let number = Double(text), number.isFinite { return number }
            return text
        case .sequence(let sequence):
            return sequence.map { plain($0) }
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping {
                object[key.string ?? "\(key)"] = plain(value)
            }
            return object
        case .alias:
            return NSNull()
        }
    }
}

/// Every error found in one central document (it is rejected whole).
public struct CentralConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errors, in document order.
    public var errors: [CentralConfigError]

    /// Wraps errors.
    public init(_ errors: [CentralConfigError]) {
        self.errors = errors
    }

    public var description: String { errors.map(\.description).joined(separator: "; ") }
}
