import EstuaryConfig

/// What the backend answered to one stream question (the whole paged list, or a set of names), already
/// decoded and validated.
public struct BackendStreamAnswer: Sendable, Equatable {
    /// The valid streams, in the backend's order.
    public var streams: [StreamConfig]
    /// One error per rejected entry; each names the stream (or its place) and the field.
    public var errors: [StreamConfigError]
    /// Unknown field names seen in the entries, each once.
    public var unknownFields: [String]
    /// The headers of the first response (only meaningful for `GET /streams` without `name`).
    public var capabilities: BackendCapabilities
    /// How many HTTP requests the answer took.
    public var requests: Int
    /// How many body bytes the answer took.
    public var bytes: Int

    /// Creates an answer.
    public init(
        streams: [StreamConfig] = [], errors: [StreamConfigError] = [], unknownFields: [String] = [],
        capabilities: BackendCapabilities = BackendCapabilities(), requests: Int = 0, bytes: Int = 0
    ) {
        self.streams = streams
        self.errors = errors
        self.unknownFields = unknownFields
        self.capabilities = capabilities
        self.requests = requests
        self.bytes = bytes
    }

    /// Adds another answer's streams, errors and counts (keeping this answer's capabilities).
    public mutating func merge(_ other: BackendStreamAnswer) {
        streams += other.streams
        errors += other.errors
        unknownFields = Array(Set(unknownFields).union(other.unknownFields)).sorted()
        requests += other.requests
        bytes += other.bytes
    }
}
