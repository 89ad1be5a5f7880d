/// Why one stream's configuration was rejected. Every case names the stream and, where there is one, the
/// field (`inputs[0].url`, `dvr.expiration`), so an operator can find it.
///
/// A stream without a usable name is named by its place: `streams[3]` in a list, `(unnamed)` alone.
/// Descriptions never contain passwords or keys; URLs in them are masked with ``SecretMasking``.
public enum StreamConfigError: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
    /// A required field is absent (or null).
    case missingField(stream: String, field: String)
    /// A field is present but its value is not acceptable.
    case invalidField(stream: String, field: String, reason: String)
    /// The stream entry is not an object at all.
    case notAnObject(stream: String)
    /// An earlier stream in the same list or file has this name.
    case duplicateName(stream: String)

    /// The stream's name, or its place when it has no usable name.
    public var stream: String {
        switch self {
        case .missingField(let stream, _), .invalidField(let stream, _, _), .notAnObject(let stream),
            .duplicateName(let stream):
            stream
        }
    }

    /// The offending field's path, if the error concerns one field.
    public var field: String? {
        switch self {
        case .missingField(_, let field), .invalidField(_, let field, _): field
        case .notAnObject: nil
        case .duplicateName: "name"
        }
    }

    /// For example `stream 'cam1': inputs[0].url: unsupported scheme 'ftp'`.
    public var description: String {
        switch self {
        case .missingField(let stream, let field):
            "stream '\(stream)': \(field): is required"
        case .invalidField(let stream, let field, let reason):
            "stream '\(stream)': \(field): \(reason)"
        case .notAnObject(let stream):
            "stream '\(stream)': expected an object"
        case .duplicateName(let stream):
            "stream '\(stream)': name: a stream with this name is already configured"
        }
    }

    init(stream: String, _ error: FieldError) {
        if error.isMissing {
            self = .missingField(stream: stream, field: error.field)
        } else {
            self = .invalidField(stream: stream, field: error.field, reason: error.reason)
        }
    }
}
