/// A field that could not be read: its path (`dvr.expiration`, `inputs[0].url`) and why.
struct FieldError: Error, Sendable {
    var field: String
    var reason: String
    var isMissing: Bool

    init(field: String, reason: String, isMissing: Bool = false) {
        self.field = field
        self.reason = reason
        self.isMissing = isMissing
    }

    static func missing(_ field: String) -> FieldError {
        FieldError(field: field, reason: "is required", isMissing: true)
    }
}

/// Reads typed fields out of one object of a ``ConfigValue`` and remembers which keys it read, so that
/// the rest can be reported as unknown.
struct ObjectReader {
    /// The path of this object in error messages: `""`, `dvr`, `inputs[0]`.
    let path: String
    /// The path in unknown-field reports, without list indices: `""`, `dvr`, `inputs`.
    let namePath: String
    private let fields: [String: ConfigValue]
    private var consumed: Set<String> = []

    init(_ value: ConfigValue, path: String, namePath: String) throws(FieldError) {
        guard case .object(let fields) = value else {
            throw FieldError(field: path, reason: "expected an object, got \(value.kindName)")
        }
        self.fields = fields
        self.path = path
        self.namePath = namePath
    }

    /// The path of `key` inside this object.
    func fieldPath(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// The keys that were never read, each with ``namePath`` before it, sorted.
    var unknownFields: [String] {
        fields.keys.filter { !consumed.contains($0) }.map { namePath.isEmpty ? $0 : "\(namePath).\($0)" }.sorted()
    }

    /// The first of `keys` present with a non-null value; every one of `keys` counts as read.
    mutating func take(_ keys: String...) -> (key: String, value: ConfigValue)? {
        take(keys)
    }

    mutating func string(_ keys: String...) throws(FieldError) -> String? {
        guard let (key, value) = take(keys) else { return nil }
        return try value.asString(field: fieldPath(key))
    }

    mutating func requiredString(_ key: String) throws(FieldError) -> String {
        guard let value = try string(key) else { throw .missing(fieldPath(key)) }
        return value
    }

    /// A string, with `""` read as absent.
    mutating func nonEmptyString(_ keys: String...) throws(FieldError) -> String? {
        guard let (key, value) = take(keys) else { return nil }
        let text = try value.asString(field: fieldPath(key))
        return text.isEmpty ? nil : text
    }

    mutating func int(_ key: String) throws(FieldError) -> Int? {
        guard let (key, value) = take([key]) else { return nil }
        return try value.asInt(field: fieldPath(key))
    }

    mutating func bool(_ keys: String...) throws(FieldError) -> Bool? {
        guard let (key, value) = take(keys) else { return nil }
        return try value.asBool(field: fieldPath(key))
    }

    mutating func duration(_ key: String) throws(FieldError) -> Int? {
        guard let (key, value) = take([key]) else { return nil }
        return try value.asUnit(field: fieldPath(key), parse: ConfigUnits.parseDuration)
    }

    mutating func byteSize(_ key: String) throws(FieldError) -> Int? {
        guard let (key, value) = take([key]) else { return nil }
        return try value.asUnit(field: fieldPath(key), parse: ConfigUnits.parseByteSize)
    }

    mutating func bitRate(_ key: String) throws(FieldError) -> Int? {
        guard let (key, value) = take([key]) else { return nil }
        return try value.asUnit(field: fieldPath(key), parse: ConfigUnits.parseBitRate)
    }

    /// A nested object's reader, or `nil` when the key is absent or null.
    mutating func object(_ key: String) throws(FieldError) -> ObjectReader? {
        guard let (key, value) = take([key]) else { return nil }
        return try ObjectReader(value, path: fieldPath(key), namePath: namePath.isEmpty ? key : "\(namePath).\(key)")
    }

    /// A list's elements with their paths, or `nil` when the key is absent or null.
    mutating func list(_ key: String) throws(FieldError) -> [(path: String, value: ConfigValue)]? {
        guard let (key, value) = take([key]) else { return nil }
        guard case .array(let elements) = value else {
            throw FieldError(field: fieldPath(key), reason: "expected a list, got \(value.kindName)")
        }
        return elements.enumerated().map { ("\(fieldPath(key))[\($0.offset)]", $0.element) }
    }

    /// A list of strings; a single string is read as a list of one.
    mutating func stringList(_ key: String) throws(FieldError) -> [String]? {
        guard let (key, value) = take([key]) else { return nil }
        let path = fieldPath(key)
        switch value {
        case .array(let elements):
            var result: [String] = []
            for (index, element) in elements.enumerated() {
                result.append(try element.asString(field: "\(path)[\(index)]"))
            }
            return result
        default:
            return [try value.asString(field: path)]
        }
    }

    /// The name path of a nested key, for readers of list elements.
    func namePath(of key: String) -> String {
        namePath.isEmpty ? key : "\(namePath).\(key)"
    }

    private mutating func take(_ keys: [String]) -> (key: String, value: ConfigValue)? {
        var found: (key: String, value: ConfigValue)?
        for key in keys {
            // Only keys present can be unknown: an absent one need not be remembered.
            guard let value = fields[key] else { continue }
            consumed.insert(key)
            if found == nil, value != .null {
                found = (key, value)
            }
        }
        return found
    }
}

extension ConfigValue {
    /// A string; JSON integers are accepted as their decimal text.
    func asString(field: @autoclosure () -> String) throws(FieldError) -> String {
        switch self {
        case .string(let text): return text
        case .int(let number): return String(number)
        default: throw FieldError(field: field(), reason: "expected a string, got \(kindName)")
        }
    }

    /// A whole number; numeric strings and integral JSON doubles are accepted.
    func asInt(field: @autoclosure () -> String) throws(FieldError) -> Int {
        switch self {
        case .int(let number):
            return number
        case .double(let number):
            guard let whole = Int(exactly: number) else {
                throw FieldError(field: field(), reason: "expected a whole number, got \(number)")
            }
            return whole
        case .string(let text):
            guard let number = Int(text.trimmingSpaces()) else {
                throw FieldError(field: field(), reason: "expected a whole number, got '\(text)'")
            }
            return number
        default:
            throw FieldError(field: field(), reason: "expected a whole number, got \(kindName)")
        }
    }

    /// A boolean; `true/false`, `yes/no`, `on/off` and `1/0` are accepted as text.
    func asBool(field: @autoclosure () -> String) throws(FieldError) -> Bool {
        switch self {
        case .bool(let flag):
            return flag
        case .int(let number) where number == 0 || number == 1:
            return number == 1
        case .string(let text):
            switch text.trimmingSpaces().lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: throw FieldError(field: field(), reason: "expected true or false, got '\(text)'")
            }
        default:
            throw FieldError(field: field(), reason: "expected true or false, got \(kindName)")
        }
    }

    /// A non-negative whole number, given as a number in the base unit or as text with a unit.
    func asUnit(field: @autoclosure () -> String, parse: (String) throws(UnitParseError) -> Int) throws(FieldError) -> Int {
        switch self {
        case .string(let text):
            do {
                return try parse(text)
            } catch {
                throw FieldError(field: field(), reason: error.description)
            }
        case .int, .double:
            let number = try asInt(field: field())
            guard number >= 0 else {
                throw FieldError(field: field(), reason: "must not be negative, got \(number)")
            }
            return number
        default:
            throw FieldError(field: field(), reason: "expected a number, got \(kindName)")
        }
    }
}
