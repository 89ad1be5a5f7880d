import EstuaryMedia

/// A capture of one input URL. `run` delivers into the sink until the input ends or fails
/// (it throws ``SourceError``) or the task is cancelled (it returns).
public protocol MediaSource: Sendable {
    /// The input URL with credentials masked, for logs and status.
    var displayURL: String { get }
    func run(into sink: some MediaSink) async throws
    /// Whether the source waits for a peer to connect to it (a `publish://` input): until the peer
    /// arrives, silence is not a timeout.
    var waitsForPeer: Bool { get }
}

extension MediaSource {
    public var waitsForPeer: Bool { false }
}
