import EstuaryMedia

/// `publish://`: the input of a stream that publishers send to (RTMP publish, M4F push). It waits for the
/// next publisher the ``PublishRegistry`` hands it and relays what that publisher delivers.
///
/// Guarantees: when the publisher leaves, `run` throws ``SourceError/endOfStream(url:)`` (or
/// ``SourceError/connectionFailed(url:reason:)`` with the publisher's reason), so the supervisor
/// records it and waits for the next one; when the input is stopped, the publisher is disconnected.
public struct PublishSource: MediaSource {
    public let displayURL: String
    let stream: String
    let registry: PublishRegistry

    public var waitsForPeer: Bool { true }

    public init(stream: String, displayURL: String, registry: PublishRegistry) {
        self.stream = stream
        self.displayURL = displayURL
        self.registry = registry
    }

    public func run(into sink: some MediaSink) async throws {
        let session: PublishSession
        do {
            session = try await registry.nextSession(of: stream)
        } catch {
            return
        }
        let source = "\(displayURL) (\(session.origin))"
        sink.discontinuity()
        await session.attach(sink)
        if Task.isCancelled { return }
        if let reason = session.endReason { throw SourceError.connectionFailed(url: source, reason: reason) }
        throw SourceError.endOfStream(url: source)
    }
}
