/// Where a publisher (an RTMP encoder, a node pushing M4F) delivers a stream it sends to this node.
///
/// Guarantees: once ``isOpen`` is false it stays false, and what is delivered after that is dropped;
/// the receiver closes a target when the stream stops or another publisher replaces this one, and the
/// publisher then ends its connection.
public protocol PublishTarget: MediaSink {
    /// Whether the receiver still takes what the publisher sends.
    var isOpen: Bool { get }
    /// Ends the publication from the publisher's side: `reason` is nil for a clean end
    /// (deleteStream, end of body), or says what went wrong.
    func finish(reason: String?)
}
