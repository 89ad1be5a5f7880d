/// The outcome of decoding a stream list.
public struct DecodedStreamList: Sendable, Equatable {
    /// The valid streams, in document order.
    public var streams: [StreamConfig]
    /// One error per rejected stream, in document order.
    public var errors: [StreamConfigError]
    /// Unknown field names, each once, sorted: `color`, `dvr.foo`, `inputs.bar` (no list indices).
    public var unknownFields: [String]
    /// The `next` cursor of a config_external page; `nil` on the last page (or when absent or empty).
    public var next: String?

    /// Creates a result.
    public init(streams: [StreamConfig] = [], errors: [StreamConfigError] = [], unknownFields: [String] = [], next: String? = nil) {
        self.streams = streams
        self.errors = errors
        self.unknownFields = unknownFields
        self.next = next
    }
}
