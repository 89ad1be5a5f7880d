import Synchronization

/// Hands publishers (RTMP, M4F push) to the `publish://` inputs of their streams, one node-wide.
///
/// Guarantees: a stream has at most one publisher at a time; a second is refused with
/// ``PublishError/alreadyPublishing(stream:)`` unless `replace` is asked, which closes the first;
/// a publisher that arrives while the input is between attempts (backoff) is held until the input
/// takes it; ``close(stream:)`` ends whatever a stopped stream still holds.
public final class PublishRegistry: Sendable {
    private struct Slot {
        var waiter: (id: UInt64, continuation: CheckedContinuation<PublishSession, any Error>)?
        var session: PublishSession?
        var taken = false
    }

    private let slots = Mutex<(next: UInt64, byStream: [String: Slot])>((0, [:]))

    public init() {}

    /// Registers a publisher for `stream`.
    ///
    /// - Throws: ``PublishError/alreadyPublishing(stream:)`` when another publisher is open and `replace` is false.
    public func attach(stream: String, origin: String, replace: Bool) throws(PublishError) -> PublishSession {
        let session = PublishSession(stream: stream, origin: origin) { [weak self] ended in self?.ended(ended) }
        let (previous, waiter) = try slots.withLock { slots throws(PublishError) in
            var slot = slots.byStream[stream] ?? Slot()
            if let current = slot.session, current.isOpen, !replace { throw .alreadyPublishing(stream: stream) }
            let previous = slot.session
            slot.session = session
            slot.taken = slot.waiter != nil
            let waiter = slot.waiter
            slot.waiter = nil
            slots.byStream[stream] = slot
            return (previous, waiter)
        }
        previous?.close(reason: "replaced by a new publisher (\(origin))")
        waiter?.continuation.resume(returning: session)
        return session
    }

    /// The stream's current publisher, if one is open.
    public func publisher(of stream: String) -> PublishSession? {
        slots.withLock { $0.byStream[stream]?.session }.flatMap { $0.isOpen ? $0 : nil }
    }

    /// Waits for the next publisher of `stream` that no input has taken yet.
    ///
    /// - Throws: `CancellationError` when the task is cancelled first.
    func nextSession(of stream: String) async throws -> PublishSession {
        let id = slots.withLock { slots -> UInt64 in
            slots.next += 1
            return slots.next
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PublishSession, any Error>) in
                let ready = slots.withLock { slots -> PublishSession? in
                    var slot = slots.byStream[stream] ?? Slot()
                    if let session = slot.session, session.isOpen, !slot.taken {
                        slot.taken = true
                        slots.byStream[stream] = slot
                        return session
                    }
                    let previous = slot.waiter
                    slot.waiter = (id, continuation)
                    slots.byStream[stream] = slot
                    previous?.continuation.resume(throwing: CancellationError())
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
                if Task.isCancelled { cancelWaiter(stream: stream, id: id) }
            }
        } onCancel: {
            cancelWaiter(stream: stream, id: id)
        }
    }

    /// Ends the publisher of a stopped stream and forgets the stream.
    public func close(stream: String) {
        let slot = slots.withLock { $0.byStream.removeValue(forKey: stream) }
        slot?.waiter?.continuation.resume(throwing: CancellationError())
        slot?.session?.close(reason: "stream '\(stream)' stopped")
    }

    private func cancelWaiter(stream: String, id: UInt64) {
        let waiter = slots.withLock { slots -> CheckedContinuation<PublishSession, any Error>? in
            guard let waiter = slots.byStream[stream]?.waiter, waiter.id == id else { return nil }
            slots.byStream[stream]?.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(throwing: CancellationError())
    }

    private func ended(_ session: PublishSession) {
        slots.withLock { slots in
            guard slots.byStream[session.stream]?.session === session else { return }
            slots.byStream[session.stream]?.session = nil
            slots.byStream[session.stream]?.taken = false
        }
    }
}
