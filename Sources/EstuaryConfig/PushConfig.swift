/// A destination the stream is pushed to (wire object in `pushes`).
public struct PushConfig: Sendable, Equatable, Hashable {
    /// The destination URL (`rtmp://…`, `m4f://…`, …).
    public var url: String

    /// Creates a push.
    public init(url: String) {
        self.url = url
    }
}
