import EstuaryMedia
import Synchronization

/// One publisher's connection to one stream: what the publisher delivers (as a ``PublishTarget``)
/// queued for the stream's `publish://` input to take.
///
/// Guarantees: events are taken in the order they were delivered; the queue holds at most
/// ``queueLimit`` events, and a publisher that outruns the stream by more is cut off (the session
/// ends with a reason) rather than growing memory; once closed, by either side, it stays closed.
public final class PublishSession: PublishTarget, Sendable {
    /// What a publisher delivered.
    public enum Event: Sendable {
        case tracks([TrackInfo])
        case frame(MediaFrame)
        case flush
        case inputError(String)
    }

    /// The most events held for the input before the publisher is cut off.
    public static let queueLimit = 8_192

    public let stream: String
    /// Where the publisher came from, for logs and status (`rtmp 10.0.0.7:50123`, `m4f push 10.0.0.8`).
    public let origin: String
    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let state = Mutex<(open: Bool, reason: String?)>((true, nil))
    private let onEnd: @Sendable (PublishSession) -> Void

    init(stream: String, origin: String, onEnd: @escaping @Sendable (PublishSession) -> Void) {
        self.stream = stream
        self.origin = origin
        self.onEnd = onEnd
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingOldest(Self.queueLimit))
    }

    public var isOpen: Bool { state.withLock { $0.open } }

    /// Why the session ended, once it has (nil for a clean end).
    public var endReason: String? { state.withLock { $0.reason } }

    public func setTracks(_ tracks: [TrackInfo]) { deliver(.tracks(tracks)) }
    public func push(_ frame: MediaFrame) { deliver(.frame(frame)) }
    public func flush() { deliver(.flush) }
    public func inputError(_ description: String) { deliver(.inputError(description)) }

    public func finish(reason: String?) { close(reason: reason) }

    /// Ends the session from either side; the first reason given is kept.
    public func close(reason: String?) {
        let first = state.withLock { state -> Bool in
            guard state.open else { return false }
            state.open = false
            state.reason = reason
            return true
        }
        guard first else { return }
        continuation.finish()
        onEnd(self)
    }

    private func deliver(_ event: Event) {
        guard isOpen else { return }
        if case .dropped = continuation.yield(event) {
            close(reason: "the publisher sends faster than the stream takes it (\(Self.queueLimit) events queued)")
        }
    }
}
