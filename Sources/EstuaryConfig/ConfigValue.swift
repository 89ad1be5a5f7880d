import Foundation
import Yams

/// A parsed configuration document before it is read into typed models: the common ground of JSON and YAML.
///
/// YAML scalars are kept as their source text (`.string`), except plain `null`/`~`/empty scalars, which become
/// `.null`; the typed readers parse numbers, booleans and units from that text. JSON keeps its own types.
enum ConfigValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ConfigValue])
    case object([String: ConfigValue])

    /// A short name of the value's kind, for error messages.
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

/// Reads a value inside a `Decodable` type (`StreamConfig` decoded by a `JSONDecoder`); whole documents go
/// through ``parse(json:)``, which is faster.
extension ConfigValue: Decodable {
    init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: AnyKey.self) {
            var fields: [String: ConfigValue] = [:]
            for key in container.allKeys {
                fields[key.stringValue] = try container.decode(ConfigValue.self, forKey: key)
            }
            self = .object(fields)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var elements: [ConfigValue] = []
            while !container.isAtEnd {
                elements.append(try container.decode(ConfigValue.self))
            }
            self = .array(elements)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }
}

/// A coding key for any string.
private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(stringValue: String) {
        self.stringValue = stringValue
    }

    init?(intValue: Int) {
        nil
    }
}

extension ConfigValue {
    /// Reads a JSON document (with Foundation's `JSONSerialization`: a tree of plain values is all that is
    /// needed here, and it reads one about three times faster than `JSONDecoder` through `Decodable`, which
    /// must try each kind of value in turn).
    static func parse(json: Data) throws(StreamListError) -> ConfigValue {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
            throw .malformedJSON(reason: reason)
        }
        return ConfigValue(json: object)
    }

    /// Converts what `JSONSerialization` returns. Booleans come as `NSNumber`s whose type is `c` (a JSON
    /// number never does); numbers written with a fraction or exponent as doubles; other numbers as integers
    /// (one beyond `Int` as a double).
    init(json value: Any) {
        switch value {
        case let text as String:
            self = .string(text)
        case let object as [String: Any]:
            self = .object(object.mapValues { ConfigValue(json: $0) })
        case let array as [Any]:
            self = .array(array.map { ConfigValue(json: $0) })
        case let number as NSNumber:
            switch String(cString: number.objCType) {
            case "c", "B": self = .bool(number.boolValue)
            case "d", "f": self = .double(number.doubleValue)
            case "Q" where number.uint64Value > UInt64(Int.max): self = .double(number.doubleValue)
            default: self = .int(number.intValue)
            }
        default:
            self = .null
        }
    }

    /// Reads the first document of a YAML text; an empty document is `.null`.
    static func parse(yaml: String) throws(YAMLSyntaxError) -> ConfigValue {
        do {
            guard let node = try Yams.compose(yaml: yaml) else { return .null }
            return ConfigValue(node: node)
        } catch let error as YamlError {
            throw YAMLSyntaxError(error)
        } catch {
            throw YAMLSyntaxError(reason: String(describing: error), line: nil, column: nil)
        }
    }

    /// Converts a composed YAML node.
    init(node: Node) {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                self = .null
            } else {
                self = .string(scalar.string)
            }
        case .sequence(let sequence):
            self = .array(sequence.map { ConfigValue(node: $0) })
        case .mapping(let mapping):
            var fields: [String: ConfigValue] = [:]
            var merged: [String: ConfigValue] = [:]
            for (key, value) in mapping {
                let name: String
                switch key {
                case .scalar(let scalar): name = scalar.string
                default: name = String(describing: key)
                }
                if name == "<<", case .scalar(let scalar) = key, scalar.style == .plain {
                    // A merge key (`<<: *defaults`): the named mappings' fields, overridden by this mapping's own.
                    let sources = value.mapping != nil ? [value] : value.array()
                    for source in sources.reversed() {
                        if case .object(let inherited) = ConfigValue(node: source) {
                            merged.merge(inherited) { _, earlier in earlier }
                        }
                    }
                    continue
                }
                fields[name] = ConfigValue(node: value)
            }
            self = .object(fields.merging(merged) { own, _ in own })
        case .alias:
            // The parser replaces aliases with the nodes they name; an unresolved one carries nothing.
            self = .null
        }
    }
}

/// A YAML syntax error with the position Yams reported, if any.
struct YAMLSyntaxError: Error, Sendable {
    var reason: String
    var line: Int?
    var column: Int?

    init(reason: String, line: Int?, column: Int?) {
        self.reason = reason
        self.line = line
        self.column = column
    }

    init(_ error: YamlError) {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text): " } ?? ""
            self.init(reason: prefix + problem, line: mark.line, column: mark.column)
        case .reader(let problem, _, _, _):
            self.init(reason: problem, line: nil, column: nil)
        case .duplicatedKeysInMapping(let duplicates, let context):
            self.init(
                reason: "duplicate key(s) \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in a mapping",
                line: context.mark.line,
                column: context.mark.column
            )
        default:
            self.init(reason: String(describing: error), line: nil, column: nil)
        }
    }
}
