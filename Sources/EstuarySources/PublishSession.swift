import EstuaryMedia
import Synchronization

/// One publisher's connection to one stream: what the publisher delivers (as a ``PublishTarget``) goes
/// straight into the sink of the stream's `publish://` input once that input has attached, on the
/// publisher's own task, with no hop through a queue.
///
/// Guarantees: events reach the input in the order they were delivered; before the input attaches they are
/// held, at most ``queueLimit`` of them, and a publisher that sends more meanwhile is cut off (the session
/// ends with a reason) rather than growing memory; once closed, by either side, it stays closed and drops
/// whatever is delivered after.
public final class PublishSession: PublishTarget, Sendable {
    /// What a publisher delivered before the input attached.
    enum Event: Sendable {
        case tracks([TrackInfo])
        case frame(MediaFrame)
        case flush
        case inputError(String)
    }

    private struct State {
        var open = true
        var reason: String?
        var sink: (any MediaSink)?
        var backlog: [Event] = []
        var waiter: CheckedContinuation<Void, Never>?
    }

    /// The most events held for the input before it attaches.
    public static let queueLimit = 8_192

    public let stream: String
    /// Where the publisher came from, for logs and status (`rtmp 10.0.0.7:50123`, `m4f push`).
    public let origin: String
    private let state = Mutex(State())
    private let onEnd: @Sendable (PublishSession) -> Void

    init(stream: String, origin: String, onEnd: @escaping @Sendable (PublishSession) -> Void) {
        self.stream = stream
        self.origin = origin
        self.onEnd = onEnd
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
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>?? in
            guard state.open else { return nil }
            state.open = false
            state.reason = reason
            state.sink = nil
            state.backlog = []
            defer { state.waiter = nil }
            return .some(state.waiter)
        }
        guard let waiter else { return }
        waiter?.resume()
        onEnd(self)
    }

    /// Hands the held events to `sink`, sends it everything delivered from now on, and returns when the
    /// session ends; cancelling the task closes the session.
    func attach(_ sink: some MediaSink) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ended = state.withLock { state -> Bool in
                    guard state.open else { return true }
                    for event in state.backlog { Self.apply(event, to: sink) }
                    state.backlog = []
                    state.sink = sink
                    state.waiter = continuation
                    return false
                }
                if ended { continuation.resume() }
            }
        } onCancel: {
            close(reason: "the input stopped")
        }
    }

    // The sink is called under the lock: the publisher is one task, so the lock is uncontended except while
    // the input attaches, and holding it keeps the backlog and the live events in order.
    private func deliver(_ event: Event) {
        let overflow = state.withLock { state -> Bool in
            guard state.open else { return false }
            if let sink = state.sink {
                Self.apply(event, to: sink)
                return false
            }
            guard state.backlog.count < Self.queueLimit else { return true }
            state.backlog.append(event)
            return false
        }
        if overflow { close(reason: "the publisher sent \(Self.queueLimit) events before the stream took any") }
    }

    private static func apply(_ event: Event, to sink: some MediaSink) {
        switch event {
        case .tracks(let tracks): sink.setTracks(tracks)
        case .frame(let frame): sink.push(frame)
        case .flush: sink.flush()
        case .inputError(let text): sink.inputError(text)
        }
    }
}
