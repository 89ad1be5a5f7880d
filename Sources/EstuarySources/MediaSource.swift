import EstuaryMedia

/// A capture of one input URL. `run` delivers into the sink until the input ends or fails
/// (it throws ``SourceError``) or the task is cancelled (it returns).
public protocol MediaSource: Sendable {
    /// The input URL with credentials masked, for logs and status.
    var displayURL: String { get }
    func run(into sink: some MediaSink) async throws
}
