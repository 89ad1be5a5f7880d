import Foundation

/// Decodes a list of streams leniently: each valid stream is returned, each invalid one becomes one
/// ``StreamConfigError``, and one bad stream never blocks the others.
///
/// Accepted documents: the config_external response `{"streams": [...], "next": cursor|null}` (DESIGN §3),
/// a bare list `[...]`, and the same two shapes in YAML (`streams:` beside other keys, which are ignored).
/// Envelope keys other than `streams` and `next` are ignored silently; unknown keys inside streams are
/// reported once per field name in ``DecodedStreamList/unknownFields``, for the caller to log.
public struct StreamListDecoder: Sendable {
    /// Creates a decoder.
    public init() {}

    /// Decodes a JSON document.
    ///
    /// - Throws: ``StreamListError/malformedJSON(reason:)`` when the body is not JSON,
    ///   ``StreamListError/unexpectedShape(reason:)`` when it has no list of streams.
    public func decode(json: Data) throws(StreamListError) -> DecodedStreamList {
        try decode(ConfigValue.parse(json: json))
    }

    /// Decodes a YAML document; an empty document is an empty list.
    ///
    /// - Throws: ``StreamListError/malformedYAML(reason:line:column:)`` for a syntax error,
    ///   ``StreamListError/unexpectedShape(reason:)`` when it has no list of streams.
    public func decode(yaml: String) throws(StreamListError) -> DecodedStreamList {
        let value: ConfigValue
        do {
            value = try ConfigValue.parse(yaml: yaml)
        } catch {
            throw .malformedYAML(reason: error.reason, line: error.line, column: error.column)
        }
        if value == .null { return DecodedStreamList() }
        return try decode(value)
    }

    private func decode(_ document: ConfigValue) throws(StreamListError) -> DecodedStreamList {
        var result = DecodedStreamList()
        let elements: [ConfigValue]
        switch document {
        case .array(let list):
            elements = list
        case .object(let fields):
            switch fields["streams"] ?? .null {
            case .array(let list): elements = list
            case .null: elements = []
            case let other: throw .unexpectedShape(reason: "'streams' must be a list, got \(other.kindName)")
            }
            switch fields["next"] ?? .null {
            case .null: result.next = nil
            case .string(let cursor): result.next = cursor.isEmpty ? nil : cursor
            case .int(let cursor): result.next = String(cursor)
            case let other: throw .unexpectedShape(reason: "'next' must be a string or null, got \(other.kindName)")
            }
        default:
            throw .unexpectedShape(reason: "expected {\"streams\": [...]} or a list, got \(document.kindName)")
        }
        var unknown = Set<String>()
        var seen = Set<String>()
        for (index, element) in elements.enumerated() {
            do throws(StreamConfigError) {
                let stream = try StreamConfig.read(element, label: "streams[\(index)]", unknownFields: &unknown)
                guard seen.insert(stream.name).inserted else { throw StreamConfigError.duplicateName(stream: stream.name) }
                result.streams.append(stream)
            } catch {
                result.errors.append(error)
            }
        }
        result.unknownFields = unknown.sorted()
        return result
    }
}

/// ` at line L, column C`, or less when unknown.
func positionText(line: Int?, column: Int?) -> String {
    switch (line, column) {
    case (let line?, let column?): " at line \(line), column \(column)"
    case (let line?, nil): " at line \(line)"
    default: ""
    }
}
